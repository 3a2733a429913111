using System.Text.Json;
using OpenDllm.Checkpoints;
using OpenDllm.Objectives;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Objectives;

/// <summary>The MDLM loss against the PyTorch reference (shared/reference/mdlm_ref.py) on the tiny golden case.</summary>
public class MdlmLossGoldenTests(ITestOutputHelper output)
{
    public const double Tolerance = 1e-5;

    public static TheoryData<string, bool> Variants() => new()
    {
        { "mdlm", true }, { "mdlm", false }, { "opendllm_v1", true }, { "opendllm_v1", false },
        { "opendllm_latest", true }, { "opendllm_latest", false },
    };

    /// <summary>The reference's variants: "mdlm" = 1/t (linear scheduler weight), all ÷ (N_M + 1e-8).</summary>
    private static MdlmLossOptions OptionsFor(string variant, bool shift) => new()
    {
        Weighting = variant switch
        {
            "mdlm" => MdlmWeighting.Scheduler,
            "opendllm_v1" => MdlmWeighting.OpenDllmV1,
            "opendllm_latest" => MdlmWeighting.OpenDllmLatest,
            _ => throw new ArgumentOutOfRangeException(nameof(variant)),
        },
        Schedule = variant == "mdlm" ? OpenDllm.Schedules.LinearSchedule.Instance : null,
        ShiftLogits = shift,
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void LossMatchesReference(string variant, bool shift)
    {
        using var scope = NewDisposeScope();
        var dir = Fixture.GoldenDir("tiny");
        using var golden = SafetensorsFile.Open(Path.Combine(dir, "golden.safetensors"));
        var scalars = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "golden.json"))).RootElement.GetProperty("scalars");
        string suffix = shift ? "shift" : "noshift";

        var result = MdlmLoss.Compute(golden.Read("logits_bidirectional_xt"), golden.Read("input_ids"), golden.Read("mask"),
                                      golden.Read("t"), OptionsFor(variant, shift));

        double expected = scalars.GetProperty($"loss_{variant}_{suffix}").GetDouble();
        double actual = result.Loss.item<float>();
        output.WriteLine($"loss_{variant}_{suffix}: expected {expected:R}, got {actual:R}, |Δ| = {Math.Abs(actual - expected):E2}");
        Assert.True(Math.Abs(actual - expected) <= Tolerance, $"|Δ| = {Math.Abs(actual - expected):E3}");
        Assert.Equal(scalars.GetProperty($"n_masked_targets_{suffix}").GetInt64(), result.NumTargets);
        double ceErr = Fixture.MaxAbsDiff(golden.Read($"token_ce_{suffix}"), result.TokenCe);
        output.WriteLine($"token_ce_{suffix}: max |Δ| = {ceErr:E2}");
        Assert.True(ceErr <= Tolerance, $"token CE |Δ| = {ceErr:E3}");
        Assert.Equal(golden.Read($"loss_{variant}_{suffix}").item<float>(), (float)expected);
    }

    [Fact]
    public void MaskedCeMeanMatchesReferenceUnderUniformWeighting()
    {
        using var scope = NewDisposeScope();
        var dir = Fixture.GoldenDir("tiny");
        using var golden = SafetensorsFile.Open(Path.Combine(dir, "golden.safetensors"));
        var scalars = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "golden.json"))).RootElement.GetProperty("scalars");
        foreach (var shift in new[] { true, false })
        {
            var result = MdlmLoss.Compute(golden.Read("logits_bidirectional_xt"), golden.Read("input_ids"), golden.Read("mask"),
                                          golden.Read("t"), new MdlmLossOptions { Weighting = MdlmWeighting.Uniform, ShiftLogits = shift });
            double expected = scalars.GetProperty(shift ? "ce_masked_mean_shift" : "ce_masked_mean_noshift").GetDouble();
            Assert.True(Math.Abs(result.Loss.item<float>() - expected) <= Tolerance);
        }
    }
}
