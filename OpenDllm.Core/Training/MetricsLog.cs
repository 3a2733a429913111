using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenDllm.IO;

namespace OpenDllm.Training;

/// <summary>
/// Appends one JSON object per line to <c>metrics.jsonl</c> (training steps and evaluations), flushed each line. The file
/// is opened at the first <see cref="Write"/>, so a resuming trainer can first cut it back to its checkpoint's step
/// (<see cref="TruncateAfter"/>): records of steps that were trained but never saved are dropped instead of repeated.
/// A last line torn by a crash is cut before anything is appended.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    public const string FileName = "metrics.jsonl";
    StreamWriter? _writer;

    public MetricsLog(string path)
    {
        FilePath = path;
    }

    public string FilePath { get; }

    public void Write(JsonObject record)
    {
        if (_writer is null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(FilePath))!);
            DropTornLastLine(FilePath);
            var stream = new FileStream(FilePath, FileMode.Append, FileAccess.Write, FileShare.Read);
            _writer = new StreamWriter(stream) { AutoFlush = true };
        }
        _writer.WriteLine(record.ToJsonString());
    }

    /// <summary>
    /// Keeps only the records up to <paramref name="step"/> (records without a step and a torn last line are dropped too),
    /// replacing the file atomically; nothing happens when there is nothing to drop. Call before the first
    /// <see cref="Write"/>.
    /// </summary>
    /// <returns>The number of lines dropped.</returns>
    public int TruncateAfter(long step)
    {
        if (_writer is not null) throw new InvalidOperationException($"{FilePath}: truncate the metrics before writing to them");
        if (!File.Exists(FilePath)) return 0;
        var kept = new StringBuilder();
        int dropped = 0;
        foreach (var line in File.ReadLines(FilePath))
        {
            if (line.Length == 0) continue;
            if (Parse(line) is { } record && record["step"] is JsonValue s && s.TryGetValue(out long recordStep) && recordStep <= step)
                kept.Append(line).Append('\n');
            else dropped++;
        }
        if (dropped > 0 || !EndsWithNewline(FilePath)) AtomicFile.WriteAllText(FilePath, kept.ToString());
        return dropped;
    }

    /// <summary>Reads every record of a metrics file (for charts and tests); a torn last line (a crash mid-write) is skipped.</summary>
    /// <exception cref="InvalidDataException">A line other than the last is not a JSON object; the message names the file and line.</exception>
    public static IReadOnlyList<JsonObject> Read(string path)
    {
        var lines = File.ReadLines(path).Select((text, index) => (text, number: index + 1)).Where(l => l.text.Length > 0).ToList();
        var records = new List<JsonObject>(lines.Count);
        for (int i = 0; i < lines.Count; i++)
        {
            if (Parse(lines[i].text) is { } record) records.Add(record);
            else if (i < lines.Count - 1) throw new InvalidDataException($"{path}:{lines[i].number}: not a JSON object");
        }
        return records;
    }

    static JsonObject? Parse(string line)
    {
        try { return JsonNode.Parse(line) as JsonObject; }
        catch (JsonException) { return null; }
    }

    /// <summary>Cuts a last line that a crash left without its newline (one truncation, so it is atomic).</summary>
    static void DropTornLastLine(string path)
    {
        if (!File.Exists(path) || EndsWithNewline(path)) return;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        long end = stream.Length;
        var buffer = new byte[64 * 1024];
        while (end > 0)
        {
            int count = (int)Math.Min(buffer.Length, end);
            stream.Seek(end - count, SeekOrigin.Begin);
            stream.ReadExactly(buffer, 0, count);
            int newline = Array.LastIndexOf(buffer, (byte)'\n', count - 1);
            if (newline >= 0) { stream.SetLength(end - count + newline + 1); return; }
            end -= count;
        }
        stream.SetLength(0);
    }

    static bool EndsWithNewline(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (stream.Length == 0) return true;
        stream.Seek(-1, SeekOrigin.End);
        return stream.ReadByte() == '\n';
    }

    public void Dispose() => _writer?.Dispose();
}
