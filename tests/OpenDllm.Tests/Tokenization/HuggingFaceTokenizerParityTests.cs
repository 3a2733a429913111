using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using OpenDllm.Tokenization;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Tokenization;

/// <summary>
/// C# ids versus the Tokenizers.js oracle (golden file made by test-fixtures/npm/make-tokenizer-golden.mjs) on
/// every HumanEval prompt/solution, every MBPP text/code, every sanitized-MBPP prompt/code and ~20 edge cases (3,153 texts).
/// </summary>
[Collection(QwenTokenizerCollection.Name)]
public sealed class HuggingFaceTokenizerParityTests(QwenTokenizerFixture qwen, ITestOutputHelper output)
{
    private sealed record GoldenLine(string Source, string Text, int[] Ids);

    private static List<GoldenLine> ReadGolden()
    {
        Assert.True(File.Exists(TokenizerTestPaths.OracleIds), $"golden file missing: {TokenizerTestPaths.OracleIds}");
        var lines = new List<GoldenLine>();
        using var gz = new GZipStream(File.OpenRead(TokenizerTestPaths.OracleIds), CompressionMode.Decompress);
        using var reader = new StreamReader(gz, Encoding.UTF8);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            lines.Add(new GoldenLine(
                root.GetProperty("source").GetString()!,
                root.GetProperty("text").GetString()!,
                root.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray()));
        }
        return lines;
    }

    [Fact]
    public void Ids_equal_the_oracle_on_every_golden_text()
    {
        var tok = qwen.Tokenizer;
        var golden = ReadGolden();
        Assert.True(golden.Count >= 2000, $"golden file has only {golden.Count} lines");

        var sw = Stopwatch.StartNew();
        var mismatches = new List<string>();
        long tokens = 0, chars = 0;
        foreach (var g in golden)
        {
            var ids = tok.Encode(g.Text);
            tokens += ids.Count;
            chars += g.Text.Length;
            if (!ids.SequenceEqual(g.Ids))
            {
                int at = 0;
                while (at < ids.Count && at < g.Ids.Length && ids[at] == g.Ids[at]) at++;
                mismatches.Add($"{g.Source}: first difference at token {at}: " +
                               $"C# [{string.Join(",", ids.Skip(at).Take(6))}] oracle [{string.Join(",", g.Ids.Skip(at).Take(6))}]");
            }
        }
        output.WriteLine($"Qwen3 load {qwen.LoadTime.TotalMilliseconds:F0} ms; encoded {golden.Count} texts " +
                         $"({chars} chars, {tokens} tokens) in {sw.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(mismatches.Count == 0,
            $"{mismatches.Count} of {golden.Count} texts differ from the oracle; first ones:\n" +
            string.Join("\n", mismatches.Take(10)));
    }

    [Fact]
    public void Decode_of_encode_is_the_NFC_text_on_every_golden_text()
    {
        var tok = qwen.Tokenizer;
        var golden = ReadGolden();
        var failures = golden
            .Where(g => tok.Decode(g.Ids) != g.Text.Normalize(NormalizationForm.FormC))
            .Select(g => g.Source)
            .ToList();
        Assert.True(failures.Count == 0,
            $"{failures.Count} of {golden.Count} texts do not round-trip: {string.Join(", ", failures.Take(10))}");
    }
}
