using OpenDllm.Checkpoints;
using OpenDllm.Training;

namespace OpenDllm.Tests.Training;

/// <summary>train.precision end to end: recipe keys, loss curves, checkpoints and resume.</summary>
public sealed class PrecisionTrainingTests : IDisposable
{
    readonly TrainingFixture _f = new();

    public void Dispose() => _f.Dispose();

    static List<double> Losses(string output) =>
        MetricsLog.Read(Path.Combine(output, MetricsLog.FileName)).Where(m => m.ContainsKey("loss")).Select(m => (double)m["loss"]!).ToList();

    /// <summary>
    /// The same 80-step run in fp32, bf16_mixed and pure bf16. The runs share every random draw (data order, t, masks),
    /// so their loss curves differ only through precision, and each step's loss is compared with fp32's. Tolerance: 0.5%
    /// per step and 0.25% on the final held-out bound. Measured on this recipe: bf16_mixed stays within 0.07% at every
    /// step (bf16 rounding in the forward/backward averages out over the tokens); pure bf16 drifts by up to 2%, because
    /// updates are rounded to bf16 weights; so the same tolerance is also checked to reject pure bf16, which shows it
    /// separates the two.
    /// </summary>
    [Fact]
    public void MixedPrecisionLossCurveTracksFloat32AndPureBf16DoesNot()
    {
        const int steps = 80;
        const double perStep = 0.005, bound = 0.0025;
        var last = new Dictionary<string, double>();
        foreach (var precision in TrainingPrecisions.Names)
        {
            using var trainer = Trainer.Create(_f.Recipe(Path.Combine(_f.Root, precision), "mdlm", steps, $"--train.precision={precision}"));
            last[precision] = trainer.Run().Last!.BitsPerToken;
        }
        var fp32 = Losses(Path.Combine(_f.Root, "fp32"));
        Assert.Equal(steps, fp32.Count);
        Assert.True(fp32.TakeLast(10).Average() < 0.6 * fp32.Take(10).Average(), "the fp32 run did not learn enough for curves to mean anything");
        double Drift(string precision) => fp32.Zip(Losses(Path.Combine(_f.Root, precision)), (a, b) => Math.Abs(a - b) / a).Max();
        double BoundGap(string precision) => Math.Abs(last[precision] - last["fp32"]) / last["fp32"];

        Assert.True(Drift("bf16_mixed") < perStep, $"bf16_mixed: a step's loss is {Drift("bf16_mixed"):P3} off fp32's");
        Assert.True(BoundGap("bf16_mixed") < bound, $"bf16_mixed: held-out bound {last["bf16_mixed"]:F4} vs fp32 {last["fp32"]:F4}");
        Assert.True(Drift("bf16") > perStep, $"pure bf16 stayed within {Drift("bf16"):P3} of fp32: the tolerance does not separate anything");
    }

    /// <summary>N steps + save + resume + N steps = 2N steps, bit for bit, under bf16_mixed; the checkpoint holds float32 masters.</summary>
    [Fact]
    public void ResumeIsExactUnderMixedPrecision()
    {
        const int n = 3;
        var straight = Path.Combine(_f.Root, "straight");
        var split = Path.Combine(_f.Root, "split");
        string[] mixed = ["--train.precision=bf16_mixed"];
        using (var trainer = Trainer.Create(_f.Recipe(straight, "mdlm", 2 * n, mixed)))
            trainer.Run();
        using (var trainer = Trainer.Create(_f.Recipe(split, "mdlm", 2 * n, mixed)))
        {
            for (int i = 0; i < n; i++) trainer.TrainStep();
            trainer.SaveCheckpoint();
        }
        using (var resumed = Trainer.Create(_f.Recipe(split, "mdlm", 2 * n, mixed)))
        {
            Assert.Equal(n, resumed.Step);
            Assert.Equal(TorchSharp.torch.ScalarType.BFloat16, resumed.Model.ComputeDtype);
            resumed.Run();
        }
        using var a = SafetensorsCheckpoint.Open(CheckpointStore.Latest(straight)!);
        using var b = SafetensorsCheckpoint.Open(CheckpointStore.Latest(split)!);
        Assert.Equal(a.Names, b.Names);
        foreach (var name in a.Names)
        {
            Assert.Equal(SafetensorsDType.F32, a.GetEntry(name).DType);
            Assert.True(Fixture.Same(a.Read(name), b.Read(name)), $"{name} differs after resume");
        }
        Assert.Equal(Losses(straight).Skip(n), Losses(split).TakeLast(n));
        var saved = Recipe.Load(Path.Combine(CheckpointStore.Latest(split)!, "recipe.json"));
        Assert.Equal("bf16_mixed", saved.Train.Precision);
    }

    [Fact]
    public void APureBf16CheckpointIsNotResumedAsMixedPrecision()
    {
        var output = Path.Combine(_f.Root, "pure");
        using (var trainer = Trainer.Create(_f.Recipe(output, "mdlm", 1, "--train.precision=bf16")))
            trainer.Run();
        var error = Assert.Throws<InvalidDataException>(() => Trainer.Create(_f.Recipe(output, "mdlm", 2, "--train.precision=bf16_mixed")));
        Assert.Contains("train.precision = bf16", error.Message);
        using var again = Trainer.Create(_f.Recipe(output, "mdlm", 2, "--train.precision=bf16"));
        Assert.Equal(1, again.Step);
    }

    [Fact]
    public void TheOldDtypeKeyMapsFloat32AndRefusesToGuessForBfloat16()
    {
        Assert.Equal(TrainingPrecision.Fp32, TrainingPrecisions.Resolve(_f.Recipe("x", "mdlm", 1, "--train.dtype=float32").Train));
        Assert.Equal(TrainingPrecision.Fp32, TrainingPrecisions.Resolve(_f.Recipe("x").Train));
        var output = Path.Combine(_f.Root, "old-bf16");
        var error = Assert.Throws<ArgumentException>(() => Trainer.Create(_f.Recipe(output, "mdlm", 1, "--train.dtype=bfloat16")));
        Assert.Contains("bf16_mixed", error.Message);
        Assert.Contains("train.precision", error.Message);
        Assert.False(Directory.Exists(output));
        Assert.False(Directory.Exists(Path.Combine(_f.Root, "shards")), "data was prepared before the recipe was refused");
    }

    [Theory]
    [InlineData("train: {precision: bf16_amp}", "train.precision", "fp32, bf16_mixed, bf16")]
    [InlineData("train: {precision: bf16_mixed, dtype: float32}", "train.dtype", "contradicts train.precision")]
    [InlineData("train: {precision: fp32, dtype: bfloat16}", "train.dtype", "contradicts train.precision")]
    public void BadPrecisionKeysAreNamed(string yaml, string key, string hint)
    {
        var error = Assert.ThrowsAny<Exception>(() => Recipe.Parse("model: {preset: tiny}\n" + yaml, "bad.yaml"));
        Assert.Contains(key, error.Message);
        Assert.Contains(hint, error.Message);
        Assert.Contains("bad.yaml", error.Message);
    }

    [Fact]
    public void ConsistentOldAndNewKeysAreAccepted()
    {
        var recipe = Recipe.Parse("model: {preset: tiny}\ntrain: {precision: bf16_mixed, dtype: bfloat16}", "ok.yaml");
        Assert.Equal(TrainingPrecision.Bf16Mixed, TrainingPrecisions.Resolve(recipe.Train));
    }
}
