using OpenDllm.Cli;
using OpenDllm.Methods.Ldlm;
using OpenDllm.Sampling;
using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Cli;

/// <summary>`opendllm sample CKPT --method ldlm` on an LDLM checkpoint folder (random modules: the command, not the model,
/// is under test): output, determinism, trajectories, refused options, and the LDLM error of token-level commands.</summary>
[Collection("Console")]
public sealed class LatentSampleCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-ldlm-cli-").FullName;

    public LatentSampleCommandTests()
    {
        var architecture = new LdlmArchitecture
        {
            EncoderHiddenSize = 32, VocabSize = ByteTokenizer.Instance.VocabSize, Length = 12, Latents = 4, LatentDim = 16, PerceiverHeads = 2,
            EncoderLayers = 1, DecoderLayers = 1, FfnMultiplier = 2, TokenDecoderLayers = 1, TokenDecoderHeads = 2, DitLayers = 1, DitWidth = 16, DitHeads = 2,
        };
        using var modules = new LdlmModules(architecture, seed: 4);
        modules.Save(_dir);
        new LdlmCheckpointInfo { EncoderPreset = "tiny", EncoderModelType = "qwen2", EncoderLayer = 1 }.Save(_dir);
        ByteTokenizer.Instance.Save(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, true);

    static (int Code, string Out, string Err) Run(params string[] args) => CliCapture.Run(args);

    /// <summary>Same seed, same trajectory file (compared as files: another test may write to the shared console meanwhile).</summary>
    [Fact]
    public void GeneratesDeterministicallyAndRecordsATrajectory()
    {
        var first = Path.Combine(_dir, "..", Path.GetFileName(_dir) + "-trajectory-1.json");
        var second = Path.Combine(_dir, "..", Path.GetFileName(_dir) + "-trajectory-2.json");
        try
        {
            var run = Run("sample", _dir, "--count", "3", "--steps", "4", "--seed", "7", "--trajectory", first);   // auto: ldlm.json
            Assert.Equal(0, run.Code);
            Assert.Equal(3, run.Out.Split('\n').Count(l => l.StartsWith("--- sample", StringComparison.Ordinal)));
            Assert.Contains("sampler ldlm-ddim, 4 steps", run.Err);
            Assert.Equal(0, Run("sample", _dir, "--method", "ldlm", "--count", "3", "--steps", "4", "--seed", "7", "--trajectory", second).Code);
            Assert.Equal(File.ReadAllText(first), File.ReadAllText(second));
            var t = Trajectory.Load(first);
            Assert.Equal(4, t.Steps.Count);
            Assert.Equal(3, t.Initial.Length);
            Assert.All(t.Initial, row => Assert.Equal(12, row.Length));
        }
        finally { File.Delete(first); File.Delete(second); }
    }

    [Theory]
    [InlineData("--prompt", "def")]
    [InlineData("--temperature", "0.5")]
    [InlineData("--block-length", "8")]
    [InlineData("--length", "12")]
    public void OptionsOfTheMaskedSamplersAreRefused(string option, string value)
    {
        var (code, _, err) = Run("sample", _dir, "--method", "ldlm", option, value);
        Assert.Equal(1, code);
        Assert.Contains($"{option} does not apply to --method ldlm", err);
    }

    [Fact]
    public void AMaskedSamplerNameIsRefused()
    {
        var (code, _, err) = Run("sample", _dir, "--sampler", "maskgit_plus");
        Assert.Equal(1, code);
        Assert.Contains("ddim, ddpm", err);
    }

    [Fact]
    public void TokenLevelCommandsNameTheLdlmCheckpoint()
    {
        var prefix = Path.Combine(_dir, "p.txt");
        File.WriteAllText(prefix, "x");
        var (code, _, err) = Run("infill", _dir, "--prefix-file", prefix, "--suffix-file", prefix);
        Assert.Equal(1, code);
        Assert.Contains("an LDLM (latent diffusion) checkpoint", err);
        Assert.Contains("--method ldlm", err);
    }
}
