using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests;

/// <summary>Paths of the committed fixtures (copied next to the test assembly) and small tensor assertions.</summary>
public static class Fixture
{
    public static string PathOf(params string[] parts) =>
        System.IO.Path.Combine([AppContext.BaseDirectory, "Fixtures", .. parts]);

    public static string GoldenDir(string name) => PathOf("golden", name);

    /// <summary>Same shape, dtype and values (bit-for-bit for finite values), like <c>torch.equal</c>.</summary>
    public static bool Same(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>max |a − b| as a double.</summary>
    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        Assert.Equal(a.shape, b.shape);
        using var d = (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max();
        return d.item<double>();
    }

    public static void AssertClose(Tensor expected, Tensor actual, double atol, string what)
    {
        var diff = MaxAbsDiff(expected, actual);
        Assert.True(diff <= atol, $"{what}: max |Δ| = {diff:E3} > {atol:E1}");
    }
}
