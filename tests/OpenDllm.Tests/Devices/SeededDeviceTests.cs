using OpenDllm.Config;
using OpenDllm.Masking;
using OpenDllm.Models;
using OpenDllm.Sampling;
using OpenDllm.Schedules;
using OpenDllm.TimeSampling;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Devices;

/// <summary>
/// A seed gives the same result on every device (<see cref="SeededDraws"/>): sampler tokens (greedy and temperature &gt; 0)
/// and trajectories, initial weights, forward masks and times. Each device row builds everything independently on its
/// device and compares with a CPU run made in the test, so the CPU row checks that a second, separately built run from the
/// same seed reproduces the first exactly.
/// </summary>
public class SeededDeviceTests
{
    const int MaskId = 98, PadId = 97;
    static readonly ModelConfig Config = ModelConfig.Tiny with { MaskTokenId = MaskId };

    static IEnumerable<ISampler> Samplers() =>
    [
        new MaskedDiffusionSampler(new() { Steps = 6, RecordTrajectory = true }),
        new MaskedDiffusionSampler(new() { Steps = 6, Temperature = 0.8, TopP = 0.9, AlgTemp = 0.5, Seed = 3, RecordTrajectory = true }),
        new MaskedDiffusionSampler(new() { Algorithm = UnmaskingAlgorithm.Origin, Steps = 6, Temperature = 0.7, Seed = 4 }),
        new MaskedDiffusionSampler(new() { Algorithm = UnmaskingAlgorithm.TopKMargin, Steps = 5, Quota = QuotaRule.Uniform }),
        new MaskedDiffusionSampler(new() { Algorithm = UnmaskingAlgorithm.Entropy, Steps = 6, Temperature = 0.6, TopK = 20, Seed = 5 }),
        new MaskedDiffusionSampler(new() { Algorithm = UnmaskingAlgorithm.P2, Steps = 8, RecordTrajectory = true }),
        new MaskedDiffusionSampler(new() { Algorithm = UnmaskingAlgorithm.P2, Steps = 8, Temperature = 0.8, TopK = 30, Seed = 6, RecordTrajectory = true }),
        new LladaSampler(new() { Steps = 6, BlockLength = 4 }),
        new LladaSampler(new() { Steps = 6, BlockLength = 4, Temperature = 0.7, Remasking = RemaskingStrategy.Random, Seed = 7, RecordTrajectory = true }),
        new FastDllmSampler(new() { BlockLength = 4, Threshold = 0.5, Temperature = 0.7, Seed = 8, RecordTrajectory = true }),
        new FastDllmSampler(new() { BlockLength = 4, Cache = FastDllmCache.None }),
        new FastDllmSampler(new() { BlockLength = 4, Cache = FastDllmCache.Prefix }),
        new FastDllmSampler(new() { BlockLength = 4, Threshold = 0.3, Cache = FastDllmCache.Delayed, RefreshInterval = 3 }),   // rows fall out of step: sub-batch forwards
        new BlockDiffusionSampler(new() { BlockSize = 4, Steps = 6, Temperature = 0.6, Seed = 9, RecordTrajectory = true }),
        new BlockDiffusionSampler(new() { BlockSize = 4, Steps = 6, UseCache = false }),
        new AutoregressiveSampler(new() { Temperature = 0.9, TopP = 0.95, Seed = 10, RecordTrajectory = true }),
        new AutoregressiveSampler(new() { UseCache = false }),
    ];

    [Theory, OnCpu, OnCuda]
    public void EverySamplerGivesTheCpuTokensOnTheDevice(string device)
    {
        var target = TestDevices.Parse(device);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var onCpu = new ModelDenoiser(new Qwen2Model(Config).InitializeWeights(21, std: 0.3), MaskId, shiftedLogits: false);
        var onDevice = new ModelDenoiser(new Qwen2Model(Config, target).InitializeWeights(21, std: 0.3), MaskId, shiftedLogits: false);
        var canvas = Canvas.ForCompletion([[1, 2, 3], [4, 5, 6, 7, 8]], 12, MaskId, PadId);          // left padding in row 0
        var canvasOnDevice = new Canvas(canvas.Tokens.to(target), canvas.KeyPadding!.to(target));
        foreach (var sampler in Samplers())
        {
            var expected = sampler.Sample(onCpu, canvas);
            var actual = sampler.Sample(onDevice, canvasOnDevice);
            Assert.Equal(target.type, actual.Sequences.device_type);
            Assert.True(Fixture.Same(expected.Sequences, actual.Sequences.cpu()), $"{sampler.Name} ({Describe(sampler)}): tokens differ on {device}");
            Assert.Equal(expected.Forwards, actual.Forwards);
            Assert.Equal(expected.Trajectory?.ToJson(), actual.Trajectory?.ToJson());
        }
    }

    [Theory, OnCpu, OnCuda]
    public void WeightInitialisationGivesTheCpuWeightsOnTheDevice(string device)
    {
        var target = TestDevices.Parse(device);
        using var scope = NewDisposeScope();
        var expected = new Qwen2Model(Config).InitializeWeights(5).state_dict();
        var actual = new Qwen2Model(Config, target).InitializeWeights(5).state_dict();
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, value) in expected)
        {
            Assert.Equal(target.type, actual[name].device_type);
            Assert.True(Fixture.Same(value, actual[name].cpu()), $"{name} differs on {device}");
        }
    }

    [Theory, OnCpu, OnCuda]
    public void MasksAndTimesFromASeedAreTheSameOnTheDevice(string device)
    {
        var target = TestDevices.Parse(device);
        using var scope = NewDisposeScope();
        var x0 = randint(0, MaskId, [3, 40], dtype: ScalarType.Int64, generator: new Generator(1));
        var documents = arange(40).div(13, rounding_mode: RoundingMode.floor).unsqueeze(0).expand(3, -1).contiguous();
        var maskable = rand([3, 40], generator: new Generator(2)) > 0.2;
        (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor) Run(Device d)
        {
            var times = TimeAssignment.PerDocument(documents.to(d), new AntitheticTimestepSampler(), SeededDraws.ForSeed(3));
            var blocks = TimeAssignment.PerBlock(new UniformTimestepSampler(), 3, 40, 8, SeededDraws.ForSeed(4));
            var noisy = ForwardMasking.Apply(x0.to(d), times, LinearSchedule.Instance, MaskId, maskable.to(d), SeededDraws.ForSeed(5));
            var back = ForwardMasking.ReverseStep(noisy, x0.to(d), times * 0.5, LinearSchedule.Instance, SeededDraws.ForSeed(6));
            var span = SpanMasking.Sample(x0.to(d), MaskId, SeededDraws.ForSeed(7), minPrefix: 2, minSuffix: 2);
            return (times, blocks, noisy.Tokens, noisy.Masked, back.Tokens, span.Tokens);
        }
        var expected = Run(CPU);
        var actual = Run(target);
        Assert.Equal(target.type, actual.Item3.device_type);
        Assert.Equal(target.type, actual.Item6.device_type);
        var pairs = new[] { (expected.Item1, actual.Item1, "document times"), (expected.Item2, actual.Item2, "block times"),
                            (expected.Item3, actual.Item3, "x_t"), (expected.Item4, actual.Item4, "mask"),
                            (expected.Item5, actual.Item5, "x_s"), (expected.Item6, actual.Item6, "span-masked x") };
        foreach (var (e, a, what) in pairs) Assert.True(Fixture.Same(e, a.cpu()), $"{what} differs on {device}");
        Assert.True(expected.Item4.any().item<bool>() && !expected.Item4.all().item<bool>());   // a real mask, not all or nothing
    }

    [Fact]
    public void CpuWeightsEqualAnInPlaceNormalFromTheSeed()
    {
        // the weights a seed gave before draws moved to SeededDraws: normal_ in place on each CPU parameter, in order
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = new Qwen2Model(Config).InitializeWeights(12, std: 0.05);
        var reference = new Qwen2Model(Config);
        var generator = new Generator(12);
        foreach (var (name, p) in reference.named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else p.normal_(0, 0.05, generator);
        }
        var actual = model.state_dict();
        foreach (var (name, value) in reference.state_dict()) Assert.True(Fixture.Same(value, actual[name]), name);
    }

    static string Describe(ISampler sampler) => sampler switch
    {
        MaskedDiffusionSampler m => m.Options.ToString(),
        LladaSampler l => l.Options.ToString(),
        FastDllmSampler f => f.Options.ToString(),
        BlockDiffusionSampler b => b.Options.ToString(),
        AutoregressiveSampler a => a.Options.ToString(),
        _ => sampler.Name,
    };
}
