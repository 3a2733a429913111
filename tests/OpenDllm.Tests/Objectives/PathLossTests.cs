using OpenDllm.Objectives;
using OpenDllm.Training;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Objectives;

/// <summary><c>train.path_loss</c> (SPEC §2.4): the term by hand, the Open-dLLM presets unchanged, double counting refused.</summary>
public sealed class PathLossTests
{
    static readonly float[] Ce = [0.5f, 2f, 1f, 3f];
    static readonly float[] T = [0.5f, 0.25f, 0.8f, 0.1f];
    static readonly bool[] Active = [true, true, false, true];

    static double Loss(MdlmWeighting weighting, PathLoss path)
    {
        using var scope = NewDisposeScope();
        var options = new MdlmLossOptions { Weighting = weighting, Path = path };
        options.Validate();
        var ce = where(tensor(Active).view(1, 4), tensor(Ce).view(1, 4), 0f);
        var active = tensor(Active).view(1, 4);
        var term = MdlmLoss.WeightedTerm(ce, tensor(T).view(1, 4), active, options);
        return MdlmLoss.Normalize(term, active, active, options).item<float>();
    }

    /// <summary>(1/N_M) Σ_{i ∈ M} [base_i + path_i], p_i = e^{−CE_i}, N_M = 3, computed in double.</summary>
    [Theory]
    [InlineData(MdlmWeighting.Scheduler, PathLoss.InvT)]
    [InlineData(MdlmWeighting.Scheduler, PathLoss.Plain)]
    [InlineData(MdlmWeighting.Uniform, PathLoss.InvT)]
    [InlineData(MdlmWeighting.Uniform, PathLoss.Plain)]
    [InlineData(MdlmWeighting.Uniform, PathLoss.None)]
    public void ThePathTermMatchesAHandComputation(MdlmWeighting weighting, PathLoss path)
    {
        double sum = 0;
        for (int i = 0; i < 4; i++)
        {
            if (!Active[i]) continue;
            double ce = Ce[i], t = T[i];
            double baseTerm = weighting == MdlmWeighting.Scheduler ? ce / t : ce;
            double p = Math.Exp(-ce) * ce;
            sum += baseTerm + path switch { PathLoss.InvT => p / t, PathLoss.Plain => p, _ => 0 };
        }
        Assert.Equal(sum / 3, Loss(weighting, path), 4);
    }

    /// <summary>The Open-dLLM presets are uniform + their path term (bit for bit) and v1 keeps its value.</summary>
    [Fact]
    public void TheOpenDllmPresetsAreUnchanged()
    {
        Assert.Equal(Loss(MdlmWeighting.Uniform, PathLoss.InvT), Loss(MdlmWeighting.OpenDllmLatest, PathLoss.None));
        Assert.Equal(Loss(MdlmWeighting.Uniform, PathLoss.Plain), Loss(MdlmWeighting.OpenDllmQwen3NoInvT, PathLoss.None));
        double v1 = Active.Select((a, i) => a ? (Ce[i] + Math.Exp(-Ce[i]) * Ce[i]) / T[i] : 0).Sum() / 3;
        Assert.Equal(v1, Loss(MdlmWeighting.OpenDllmV1, PathLoss.None), 4);
    }

    [Theory]
    [InlineData("opendllm_v1")]
    [InlineData("opendllm_latest")]
    [InlineData("opendllm_qwen3")]
    public void APresetPlusPathLossIsRefusedNamingBothKeys(string loss)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => Recipe.Parse($"model: {{preset: tiny}}\ntrain: {{loss: {loss}, path_loss: plain}}", "r.yaml"));
        Assert.Contains("train.path_loss", e.Message);
        Assert.Contains($"train.loss = {loss}", e.Message);
        Assert.ThrowsAny<ArgumentException>(() => new MdlmLossOptions { Weighting = MdlmWeighting.OpenDllmV1, Path = PathLoss.InvT }.Validate());
    }

    [Fact]
    public void PathLossIsRefusedWhereNoMdlmLossReadsIt()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => Recipe.Parse("model: {preset: tiny}\ntrain: {objective: ar, loss: uniform, path_loss: plain}", "r.yaml"));
        Assert.Contains("train.path_loss", e.Message);
    }
}
