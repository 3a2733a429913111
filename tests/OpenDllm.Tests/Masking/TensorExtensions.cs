using static TorchSharp.torch;

namespace OpenDllm.Tests.Masking;

internal static class TensorExtensions
{
    /// <summary>Same dtype, shape and values (<see cref="Fixture.Same"/>) as a bool, for property clauses.</summary>
    public static bool SameAs(this Tensor a, Tensor b) => Fixture.Same(a, b);
}
