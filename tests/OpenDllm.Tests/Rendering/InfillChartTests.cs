using OpenDllm.Experiments;
using OpenDllm.Interactive;

namespace OpenDllm.Tests.Rendering;

public class InfillChartTests
{
    static ComparedRun Run(string name, string objective, InfillScore oracle, InfillScore? unknown) =>
        new(name, "/runs/" + name, objective, 10, [new BoundPoint(0, 8), new BoundPoint(10, 4)], null, null, oracle.Exact, oracle.TokenAccuracy, 100, null)
        { OracleInfill = oracle, UnknownLengthInfill = unknown };

    [Fact]
    public void DrawsExactMatchTokenAccuracyAndSpeedPerRunAndLength()
    {
        var comparison = new Comparison("val_nelbo_bits / val_nll_bits", "mdlm", 4, 2, "fast-dllm-dual",
        [
            Run("mdlm", "mdlm", new("oracle", "fast-dllm-dual", 0.5, 0.75, 40, 2, 2), new("average_fixed", "fast-dllm-dual", 0, 0.5, 96, 3, 6)),
            Run("arfim", "ar_fim", new("oracle", "ar", 0, 0.25, 40, 1, 2), new("until_eos", "ar", 0, 0.25, 60, 1.5, 2)),
        ]);
        var figure = InfillCharts.Comparison(comparison);
        var html = figure.ToHtmlFragment();
        foreach (var text in new[] { "mdlm", "arfim", "oracle length", "unknown length", "token accuracy", "generated tokens per second" })
            Assert.Contains(text, html);
        Assert.Contains("<svg", figure.ToSvg(1200, 420));
        var table = comparison.ToInfillMarkdown();
        Assert.Contains("| mdlm | mdlm | oracle | oracle | fast-dllm-dual | 50.0 % | 75.0 % | 20.0 | 1000 |", table);
        Assert.Contains("| arfim | ar_fim | unknown | until_eos | ar | 0.0 % | 25.0 % | 40.0 | 750 |", table);
    }

    [Fact]
    public void AComparisonWithoutInfillHasNoChartAndNoTable()
    {
        var run = new ComparedRun("a", "/a", "mdlm", 2, [new BoundPoint(0, 8)], null, null, null, null, null, null);
        var comparison = new Comparison("val_nelbo_bits", "a", 8, 0, "maskgit_plus", [run]);
        Assert.Equal("", comparison.ToInfillMarkdown());
        Assert.Throws<ArgumentException>(() => InfillCharts.Comparison(comparison));
    }
}
