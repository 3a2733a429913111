using System.Text.Json;
using System.Text.Json.Nodes;

namespace OpenDllm.Training;

/// <summary>Appends one JSON object per line to <c>metrics.jsonl</c> (training steps and evaluations), flushed each line.</summary>
public sealed class MetricsLog : IDisposable
{
    public const string FileName = "metrics.jsonl";
    readonly StreamWriter _writer;

    public MetricsLog(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        FilePath = path;
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    public string FilePath { get; }

    public void Write(JsonObject record) => _writer.WriteLine(record.ToJsonString());

    /// <summary>Reads every record of a metrics file (for charts and tests).</summary>
    public static IReadOnlyList<JsonObject> Read(string path) =>
        File.ReadLines(path).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    public void Dispose() => _writer.Dispose();
}
