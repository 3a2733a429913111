using System.Runtime.InteropServices;
using OpenDllm.Runtime;
using TorchSharp;

namespace OpenDllm.Distributed;

/// <summary>NCCL's 128-byte unique id: made by rank 0, sent to every other rank before the communicator exists.</summary>
[StructLayout(LayoutKind.Sequential, Size = Length)]
public unsafe struct NcclUniqueId
{
    public const int Length = 128;
    fixed byte _bytes[Length];

    public byte[] ToArray()
    {
        var copy = new byte[Length];
        fixed (byte* p = _bytes) new ReadOnlySpan<byte>(p, Length).CopyTo(copy);
        return copy;
    }

    public static NcclUniqueId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length) throw new ArgumentException($"an NCCL unique id has {Length} bytes, not {bytes.Length}");
        var id = new NcclUniqueId();
        bytes.CopyTo(new Span<byte>(id._bytes, Length));
        return id;
    }
}

/// <summary>
/// The NCCL calls the GPU backend needs, bound to <c>libnccl.so.2</c>: the one PyTorch ships (<c>nvidia/nccl/lib</c>
/// beside the loaded <c>torch/lib</c>), <c>OPENDLLM_NCCL</c> (a file path), or the loader's search path.
/// Collectives are queued on the legacy default CUDA stream (0), the stream TorchSharp's kernels use.
/// </summary>
internal static unsafe class NcclNative
{
    static readonly Lazy<IntPtr> Library = new(Open);

    /// <summary>Where the library is looked for, in order.</summary>
    internal static IEnumerable<string> Candidates(Func<string, string?> environment, IEnumerable<string> loadedTorchLibraries)
    {
        if (environment("OPENDLLM_NCCL") is { Length: > 0 } explicitPath) yield return explicitPath;
        foreach (var torchLib in loadedTorchLibraries)
        {
            // site-packages/torch/lib/libtorch_cuda.so → site-packages/nvidia/nccl/lib/libnccl.so.2
            var sitePackages = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(torchLib)));
            if (sitePackages is not null) yield return Path.Combine(sitePackages, "nvidia", "nccl", "lib", "libnccl.so.2");
            if (Path.GetDirectoryName(torchLib) is { } dir) yield return Path.Combine(dir, "libnccl.so.2");
        }
        yield return "libnccl.so.2";
        yield return "libnccl.so";
    }

    static IntPtr Open()
    {
        var tried = new List<string>();
        foreach (var candidate in Candidates(Environment.GetEnvironmentVariable, LoadedLibraries.Find("libtorch_cuda.so")))
        {
            tried.Add(candidate);
            if (NativeLibrary.TryLoad(candidate, out var handle)) return handle;
        }
        throw new DllNotFoundException($"NCCL (libnccl.so.2) was not found (tried {string.Join(", ", tried)}); set OPENDLLM_NCCL to its path "
            + "(pip's nvidia-nccl-cu12/13 installs it under site-packages/nvidia/nccl/lib)");
    }

    static IntPtr Export(string name) => NativeLibrary.GetExport(Library.Value, name);

    /// <summary>ncclDataType_t of a tensor element type.</summary>
    public static int Datatype(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Byte => 1,
        torch.ScalarType.Int32 => 2,
        torch.ScalarType.Int64 => 4,
        torch.ScalarType.Float16 => 6,
        torch.ScalarType.Float32 => 7,
        torch.ScalarType.Float64 => 8,
        torch.ScalarType.BFloat16 => 9,
        _ => throw new ArgumentException($"the NCCL backend does not reduce {dtype} tensors"),
    };

    public const int Sum = 0;

    public static void Check(int code, string call)
    {
        if (code == 0) return;
        var text = ((delegate* unmanaged<int, IntPtr>)Export("ncclGetErrorString"))(code);
        throw new InvalidOperationException($"{call} failed: NCCL error {code} {Marshal.PtrToStringAnsi(text)}");
    }

    public static int Version()
    {
        int version;
        Check(((delegate* unmanaged<int*, int>)Export("ncclGetVersion"))(&version), "ncclGetVersion");
        return version;
    }

    public static NcclUniqueId GetUniqueId()
    {
        NcclUniqueId id;
        Check(((delegate* unmanaged<NcclUniqueId*, int>)Export("ncclGetUniqueId"))(&id), "ncclGetUniqueId");
        return id;
    }

    public static IntPtr CommInitRank(int worldSize, NcclUniqueId id, int rank)
    {
        IntPtr comm;
        Check(((delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int>)Export("ncclCommInitRank"))(&comm, worldSize, id, rank), "ncclCommInitRank");
        return comm;
    }

    public static void AllReduce(IntPtr send, IntPtr receive, long count, int datatype, int op, IntPtr comm) =>
        Check(((delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)Export("ncclAllReduce"))(
            send, receive, (nuint)count, datatype, op, comm, 0), "ncclAllReduce");

    public static void Broadcast(IntPtr send, IntPtr receive, long count, int datatype, int root, IntPtr comm) =>
        Check(((delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)Export("ncclBroadcast"))(
            send, receive, (nuint)count, datatype, root, comm, 0), "ncclBroadcast");

    public static void AllGather(IntPtr send, IntPtr receive, long count, int datatype, IntPtr comm) =>
        Check(((delegate* unmanaged<IntPtr, IntPtr, nuint, int, IntPtr, IntPtr, int>)Export("ncclAllGather"))(
            send, receive, (nuint)count, datatype, comm, 0), "ncclAllGather");

    /// <summary>cudaSetDevice through the CUDA runtime already loaded with libtorch: NCCL binds a communicator to the
    /// calling thread's current device.</summary>
    public static void SetDevice(int index)
    {
        var cudart = LoadedLibraries.FindOne("libcudart")
            ?? throw new DllNotFoundException("the CUDA runtime (libcudart) is not loaded; is libtorch a CUDA build?");
        var handle = NativeLibrary.Load(cudart);
        int code = ((delegate* unmanaged<int, int>)NativeLibrary.GetExport(handle, "cudaSetDevice"))(index);
        if (code != 0) throw new InvalidOperationException($"cudaSetDevice({index}) failed with CUDA error {code}");
    }

    public static void CommDestroy(IntPtr comm) => Check(((delegate* unmanaged<IntPtr, int>)Export("ncclCommDestroy"))(comm), "ncclCommDestroy");
}
