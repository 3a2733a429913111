using OpenDllm.Runtime;
using TorchSharp;

namespace OpenDllm.Tests.Runtime;

public class TorchRuntimeTests
{
    [Fact]
    public void TorchLoadsAndComputes()
    {
        TorchRuntime.EnsureLoaded();
        using var x = torch.arange(4, dtype: torch.float32);
        using var y = x.dot(x);
        Assert.Equal(14f, y.item<float>());
    }
}
