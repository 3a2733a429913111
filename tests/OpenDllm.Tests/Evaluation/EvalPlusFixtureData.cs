using System.IO.Compression;

namespace OpenDllm.Tests.Evaluation;

/// <summary>
/// A benchmarks folder in the released layout made from the EvalPlus fixtures (written for the tests, in the release
/// format): <c>evalplus/HumanEvalPlus.jsonl.gz</c> and <c>evalplus/MbppPlus.jsonl.gz</c>, gzipped as released, and
/// <c>mbpp/sanitized-mbpp.json</c>, whose text and tests MBPP+ generation prompts with.
/// </summary>
internal static class EvalPlusFixtureData
{
    /// <summary>The fixture file <paramref name="name"/> of <c>Fixtures/evalplus</c>.</summary>
    public static string File(string name) => Fixture.PathOf("evalplus", name);

    /// <summary>Creates <c><paramref name="parent"/>/data</c> and returns it; without <paramref name="sanitizedMbpp"/> the
    /// folder lacks <c>mbpp/sanitized-mbpp.json</c>.</summary>
    public static string Create(string parent, bool sanitizedMbpp = true)
    {
        var data = Path.Combine(parent, "data");
        Directory.CreateDirectory(Path.Combine(data, "evalplus"));
        foreach (var name in new[] { "HumanEvalPlus.jsonl", "MbppPlus.jsonl" })
        {
            using var target = System.IO.File.Create(Path.Combine(data, "evalplus", name + ".gz"));
            using var gzip = new GZipStream(target, CompressionLevel.Fastest);
            using var source = System.IO.File.OpenRead(File(name));
            source.CopyTo(gzip);
        }
        if (sanitizedMbpp)
        {
            Directory.CreateDirectory(Path.Combine(data, "mbpp"));
            System.IO.File.Copy(Fixture.PathOf("mbpp", "sanitized-mbpp.json"), Path.Combine(data, "mbpp", "sanitized-mbpp.json"));
        }
        return data;
    }
}
