using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace OpenDllm.Runtime;

/// <summary>One CUDA device as the driver reports it.</summary>
/// <param name="Index">The CUDA ordinal (<c>cuda:N</c>), after <c>CUDA_VISIBLE_DEVICES</c>.</param>
/// <param name="Name">e.g. <c>NVIDIA H200</c>.</param>
/// <param name="TotalBytes">Device memory in bytes.</param>
/// <param name="ComputeCapability">e.g. <c>9.0</c>.</param>
public sealed record CudaDevice(int Index, string Name, long TotalBytes, string ComputeCapability)
{
    /// <summary>"NVIDIA H200, 139.8 GiB, compute 9.0".</summary>
    public string Description =>
        $"{Name}, {(TotalBytes / (1024.0 * 1024 * 1024)).ToString("F1", CultureInfo.InvariantCulture)} GiB, compute {ComputeCapability}";

    public override string ToString() => $"cuda:{Index} {Description}";
}

/// <summary>
/// CUDA facts that TorchSharp 0.107 does not expose (it has <c>is_available</c> and <c>device_count</c> only): the
/// driver's and the loaded CUDA runtime's versions and each device's name and memory. They are read through the stable
/// C entry points of the driver (<c>libcuda.so.1</c>) and of the <c>libcudart</c> that libtorch mapped into this
/// process. Call these only after libtorch is loaded; each returns null (or an empty list) when it cannot answer.
/// </summary>
public static class CudaDevices
{
    const int AttributeComputeMajor = 75;   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
    const int AttributeComputeMinor = 76;   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR

    /// <summary>
    /// <c>cudaRuntimeGetVersion</c> of the CUDA runtime library mapped into this process (e.g. <c>13.0</c>), with its
    /// path; null when no libcudart is loaded (a CPU libtorch, or CUDA not initialised).
    /// </summary>
    public static unsafe (string Version, string Path)? RuntimeVersion()
    {
        var path = LoadedLibraries.FindOne("libcudart");
        if (path is null || !NativeLibrary.TryLoad(path, out var handle)) return null;
        try
        {
            if (!NativeLibrary.TryGetExport(handle, "cudaRuntimeGetVersion", out var f)) return null;
            int version = 0;
            return ((delegate* unmanaged<int*, int>)f)(&version) == 0 ? (Format(version), path) : null;
        }
        finally { NativeLibrary.Free(handle); }
    }

    /// <summary>The highest CUDA version the installed driver supports (<c>cuDriverGetVersion</c>), or null without a driver.</summary>
    public static unsafe string? DriverVersion()
    {
        if (!TryDriver(out var handle)) return null;
        try
        {
            if (!NativeLibrary.TryGetExport(handle, "cuDriverGetVersion", out var f)) return null;
            int version = 0;
            return ((delegate* unmanaged<int*, int>)f)(&version) == 0 ? Format(version) : null;
        }
        finally { NativeLibrary.Free(handle); }
    }

    /// <summary>The devices the driver shows this process (names, memory, compute capability); empty without a driver.</summary>
    public static unsafe IReadOnlyList<CudaDevice> List()
    {
        var devices = new List<CudaDevice>();
        if (!TryDriver(out var handle)) return devices;
        try
        {
            IntPtr Export(string name) => NativeLibrary.TryGetExport(handle, name, out var p) ? p : IntPtr.Zero;
            var init = Export("cuInit");
            var count = Export("cuDeviceGetCount");
            var get = Export("cuDeviceGet");
            var name = Export("cuDeviceGetName");
            var mem = Export("cuDeviceTotalMem_v2");
            var attribute = Export("cuDeviceGetAttribute");
            if (init == 0 || count == 0 || get == 0 || name == 0 || mem == 0 || attribute == 0) return devices;
            if (((delegate* unmanaged<uint, int>)init)(0) != 0) return devices;
            int n = 0;
            if (((delegate* unmanaged<int*, int>)count)(&n) != 0) return devices;
            var buffer = stackalloc byte[256];
            for (int i = 0; i < n; i++)
            {
                int device = 0, major = 0, minor = 0;
                nuint bytes = 0;
                if (((delegate* unmanaged<int*, int, int>)get)(&device, i) != 0) continue;
                new Span<byte>(buffer, 256).Clear();
                ((delegate* unmanaged<byte*, int, int, int>)name)(buffer, 255, device);
                ((delegate* unmanaged<nuint*, int, int>)mem)(&bytes, device);
                ((delegate* unmanaged<int*, int, int, int>)attribute)(&major, AttributeComputeMajor, device);
                ((delegate* unmanaged<int*, int, int, int>)attribute)(&minor, AttributeComputeMinor, device);
                var text = Encoding.UTF8.GetString(buffer, new ReadOnlySpan<byte>(buffer, 256).IndexOf((byte)0) is var z and >= 0 ? z : 255);
                devices.Add(new CudaDevice(i, text, (long)bytes, $"{major}.{minor}"));
            }
            return devices;
        }
        finally { NativeLibrary.Free(handle); }
    }

    /// <summary>CUDA encodes versions as 1000 × major + 10 × minor (13000 → "13.0").</summary>
    internal static string Format(int version) => $"{version / 1000}.{version % 1000 / 10}";

    static bool TryDriver(out IntPtr handle)
    {
        handle = IntPtr.Zero;
        return RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && NativeLibrary.TryLoad("libcuda.so.1", out handle);
    }
}
