using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace OpenDllm.Evaluation;

/// <summary>One scored sample (or an unusable samples-file line) as written to the results file.</summary>
/// <param name="Type">"sample" for a sample (any status), "line_error" for a samples-file line that could not be read.</param>
/// <param name="Key">Resume key: <c>task_id#index</c> (index among that task's samples in file order) or <c>line:N</c>.</param>
public sealed record SampleResultRecord(
    string Type, string Key, string Task, int Line, string? TaskId, int? SampleIndex, string Status, bool Passed,
    double? DurationMs = null, int? ExitCode = null, string? Message = null, string? Stdout = null, string? Stderr = null);

/// <summary>
/// The results file, JSON lines (issue 6: "results are written incrementally and a re-run resumes"): every record is
/// appended and flushed as soon as it exists, so a crash loses at most the line being written; opening an existing
/// file reads the records already there (a torn last line is ignored) so the caller can skip them. A summary record
/// (<c>"type": "summary"</c>) closes each run; the last one is current.
/// </summary>
public sealed class ResultsLog : IDisposable
{
    /// <summary>Compact snake_case JSON, nulls omitted.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    readonly FileStream _stream;
    readonly Lock _gate = new();

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>Sample and line-error records found in the file when it was opened, by key.</summary>
    public IReadOnlyDictionary<string, SampleResultRecord> Previous { get; }

    ResultsLog(string path, FileStream stream, Dictionary<string, SampleResultRecord> previous)
    {
        Path = path;
        _stream = stream;
        Previous = previous;
    }

    /// <summary>
    /// Opens <paramref name="path"/> for appending, reading its records first. Throws <see cref="InvalidOperationException"/>
    /// when the file holds results for another task than <paramref name="task"/>.
    /// </summary>
    public static ResultsLog Open(string path, string task)
    {
        var full = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        var previous = new Dictionary<string, SampleResultRecord>(StringComparer.Ordinal);
        if (File.Exists(full))
            foreach (var line in File.ReadLines(full))
            {
                SampleResultRecord? record;
                try
                {
                    if (JsonNode.Parse(line) is not JsonObject obj || (string?)obj["type"] is not ("sample" or "line_error")) continue;
                    record = obj.Deserialize<SampleResultRecord>(Json);
                }
                catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { continue; }   // torn line
                if (record is null) continue;
                if (record.Task != task)
                    throw new InvalidOperationException($"{full} holds results for '{record.Task}', not '{task}'; choose another results file");
                previous[record.Key] = record;
            }
        var stream = new FileStream(full, FileMode.Append, FileAccess.Write, FileShare.Read);
        if (stream.Length > 0 && LastByte(full) != '\n') stream.WriteByte((byte)'\n');   // never glue onto a torn line
        return new ResultsLog(full, stream, previous);
    }

    /// <summary>Appends one record as a JSON line and flushes it to the OS (thread-safe).</summary>
    public void Append<T>(T record)
    {
        var bytes = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(record, Json) + "\n");
        lock (_gate)
        {
            _stream.Write(bytes);
            _stream.Flush();
        }
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _stream.Dispose();

    /// <summary>The last summary record of a results file, or null.</summary>
    public static JsonObject? ReadSummary(string path) =>
        File.ReadLines(path).Reverse().Select(TryParse).FirstOrDefault(o => (string?)o?["type"] == "summary");

    static JsonObject? TryParse(string line)
    {
        try { return JsonNode.Parse(line) as JsonObject; }
        catch (JsonException) { return null; }
    }

    static int LastByte(string path)
    {
        using var read = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (read.Length == 0) return -1;
        read.Seek(-1, SeekOrigin.End);
        return read.ReadByte();
    }
}
