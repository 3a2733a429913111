using System.Text.RegularExpressions;

namespace OpenDllm.Tests.Sampling;

/// <summary>
/// Sampling sees a model only through <c>IDenoiser</c> and shared model-level helpers: nothing under
/// OpenDllm.Core/Sampling may use the training side (Objectives, Training, the training Methods), so a sampler can be
/// read, changed or reused without it. A source scan, because same-assembly references leave no trace in metadata
/// and inside <c>namespace OpenDllm.Sampling</c> a bare <c>Objectives.X</c> already resolves.
/// </summary>
public class SamplingDependencyTests
{
    /// <summary>A qualified reference: <c>OpenDllm.Objectives</c> (using, namespace) or <c>Objectives.MdlmLoss</c> (type, cref).</summary>
    static readonly Regex TrainingSide = new(@"\bOpenDllm\.(Objectives|Training|Methods)\b|(?<![\w.])(Objectives|Training|Methods)\.[A-Z]\w*", RegexOptions.Compiled);

    [Fact]
    public void NoSamplingFileUsesObjectivesOrTraining()
    {
        var folder = Path.Combine(TestPaths.RepoRoot, "OpenDllm.Core", "Sampling");
        var files = Directory.GetFiles(folder, "*.cs", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        var offending = files
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: f, Line: i + 1, Match: TrainingSide.Match(line))))
            .Where(x => x.Match.Success)
            .Select(x => $"{Path.GetRelativePath(TestPaths.RepoRoot, x.File)}:{x.Line}: {x.Match.Value}")
            .ToList();
        Assert.True(offending.Count == 0, "Sampling depends on the training side:\n" + string.Join("\n", offending));
    }

    [Theory]
    [InlineData("using OpenDllm.Objectives;", true)]
    [InlineData("        token < 0 ? logits : Objectives.MdlmLoss.SuppressToken(logits, token);", true)]
    [InlineData("/// <see cref=\"Training.Trainer\"/>", true)]
    [InlineData("using OpenDllm.Models;", false)]
    [InlineData("// the model saw this during training. Objectives differ", false)]
    public void TheScanRecognisesAReference(string line, bool expected) => Assert.Equal(expected, TrainingSide.IsMatch(line));
}
