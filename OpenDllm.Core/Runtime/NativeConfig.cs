using System.Runtime.InteropServices;
using System.Text;

namespace OpenDllm.Runtime;

/// <summary>
/// Asks a loaded <c>libtorch_cpu.so</c> for its build configuration through the exported C++ function
/// <c>std::string at::show_config()</c> (what PyTorch's <c>torch.__config__.show()</c> prints). Every libtorch since
/// 1.x exports it; its "Build settings" line carries <c>TORCH_VERSION</c> and <c>CUDA_VERSION</c>.
/// </summary>
public static class NativeConfig
{
    /// <summary>The mangled name with the C++11 string ABI, which every libtorch 2.x build of PyTorch and TorchSharp uses.</summary>
    const string ShowConfigSymbol = "_ZN2at11show_configB5cxx11Ev";

    /// <summary>
    /// The text of <c>at::show_config()</c> from the library at <paramref name="libtorchCpu"/> (already loaded, or loadable),
    /// or null when the symbol is missing (an old-ABI build) or the call is not possible here.
    /// </summary>
    /// <remarks>
    /// On x86-64 and arm64 Linux a function returning a <c>std::string</c> (not trivially copyable) takes a hidden
    /// pointer to the result's storage as its first argument. The libstdc++ C++11 <c>std::string</c> is 32 bytes:
    /// <c>{ char* data; size_t length; char local[16] / size_t capacity }</c>. The heap buffer behind a long result
    /// (a few KB) is left allocated: freeing it needs the same allocator as libstdc++'s operator new, and this runs
    /// once per process (callers cache the result).
    /// </remarks>
    public static unsafe string? ShowConfig(string libtorchCpu)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return null;
        if (!NativeLibrary.TryLoad(libtorchCpu, out var handle)) return null;
        try
        {
            if (!NativeLibrary.TryGetExport(handle, ShowConfigSymbol, out var address)) return null;
            var show = (delegate* unmanaged<byte*, byte*>)address;
            var storage = stackalloc byte[64];
            new Span<byte>(storage, 64).Clear();
            show(storage);
            var data = *(byte**)storage;
            var length = *(nuint*)(storage + 8);
            if (data == null || length > 1 << 20) return null;
            return Encoding.UTF8.GetString(data, (int)length);
        }
        finally
        {
            NativeLibrary.Free(handle);   // drops only the reference TryLoad added; the library stays loaded
        }
    }
}
