using OpenDllm.Interactive;
using OpenDllm.Tokenization;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Rendering;

public class TensorHtmlTests
{
    [Fact]
    public void FloatTensorShowsShapeDtypeDeviceStatsAndHeatmap()
    {
        using var t = tensor(new float[] { 1, 2, float.NaN, 4, float.PositiveInfinity, 6 }).reshape(2, 3);
        var html = TensorHtml.Render(t);
        Assert.Contains("[2, 3]", html);
        Assert.Contains("Float32", html);
        Assert.Contains("cpu", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("NaN <b>1</b>", html);
        Assert.Contains("inf <b>1</b>", html);
        Assert.Contains("min <b>1</b>", html);
        Assert.Contains("max <b>6</b>", html);
        Assert.Contains("class=\"heat\"", html);
        Assert.DoesNotContain("<script", html);
    }

    [Fact]
    public void TokenIdTensorIsDecodedThroughTheTokenizer()
    {
        var tok = ByteTokenizer.Instance;
        var ids = tok.Encode("hello <world>").Select(i => (long)i).ToArray();
        using var t = tensor(ids).unsqueeze(0);
        var html = TensorHtml.Render(t, tok);
        Assert.Contains("Int64", html);
        Assert.Contains($"[1, {ids.Length}]", html);
        Assert.Contains("hello &lt;world&gt;", html);
    }

    [Fact]
    public void HigherRankAndScalarTensorsRender()
    {
        using var cube = arange(24, dtype: ScalarType.Float64).reshape(2, 3, 4);
        Assert.Contains("leading dimensions flattened", TensorHtml.Render(cube));
        using var scalar = tensor(3.5);
        Assert.Contains("3.5", TensorHtml.Render(scalar));
        using var mask = ones(3, 3, dtype: ScalarType.Bool).tril();
        Assert.Contains("true: <b>6</b>", TensorHtml.Render(mask));
    }
}
