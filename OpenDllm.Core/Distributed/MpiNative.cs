using System.Runtime.InteropServices;
using TorchSharp;

namespace OpenDllm.Distributed;

/// <summary>
/// The few OpenMPI calls the MPI backend needs, bound by hand to <c>libmpi.so.40</c> (Debian's OpenMPI 4.1). The NuGet
/// package MPI.NET 1.4.0 targets msmpi.dll with MS-MPI's integer handles and crashes against OpenMPI, whose handles
/// (<c>MPI_COMM_WORLD</c>, <c>MPI_FLOAT</c>, <c>MPI_SUM</c>, …) are the addresses of exported objects such as
/// <c>ompi_mpi_comm_world</c>; <c>MPI_IN_PLACE</c> is the pointer value 1.
/// </summary>
internal static unsafe class MpiNative
{
    static readonly Lazy<IntPtr> Library = new(Open);

    public static readonly IntPtr InPlace = 1;

    static IntPtr Open()
    {
        foreach (var name in new[] { "libmpi.so.40", "libmpi.so" })
            if (NativeLibrary.TryLoad(name, out var handle)) return handle;
        throw new DllNotFoundException("OpenMPI's libmpi.so.40 was not found: install it (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev)");
    }

    static IntPtr Export(string name) => NativeLibrary.GetExport(Library.Value, name);

    public static IntPtr CommWorld => Export("ompi_mpi_comm_world");
    public static IntPtr OpSum => Export("ompi_mpi_op_sum");

    /// <summary>The MPI datatype handle of a tensor element type (OpenMPI 4.1 has no bf16 or fp16 type).</summary>
    public static IntPtr Datatype(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float32 => Export("ompi_mpi_float"),
        torch.ScalarType.Float64 => Export("ompi_mpi_double"),
        torch.ScalarType.Int64 => Export("ompi_mpi_int64_t"),
        torch.ScalarType.Int32 => Export("ompi_mpi_int"),
        torch.ScalarType.Byte => Export("ompi_mpi_unsigned_char"),
        _ => throw new ArgumentException($"the MPI backend does not reduce {dtype} tensors (OpenMPI has no such type); use float32"),
    };

    public static void Check(int code, string call)
    {
        if (code == 0) return;
        var text = new byte[1024];
        int length = 0;
        fixed (byte* p = text)
            if (((delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string"))(code, p, &length) != 0) length = 0;
        throw new InvalidOperationException($"{call} failed: MPI error {code} {System.Text.Encoding.ASCII.GetString(text, 0, length)}");
    }

    public static bool Initialized()
    {
        int flag;
        Check(((delegate* unmanaged<int*, int>)Export("MPI_Initialized"))(&flag), "MPI_Initialized");
        return flag != 0;
    }

    public static bool Finalized()
    {
        int flag;
        Check(((delegate* unmanaged<int*, int>)Export("MPI_Finalized"))(&flag), "MPI_Finalized");
        return flag != 0;
    }

    public static void Init() => Check(((delegate* unmanaged<IntPtr, IntPtr, int>)Export("MPI_Init"))(0, 0), "MPI_Init");

    public static void FinalizeMpi() => Check(((delegate* unmanaged<int>)Export("MPI_Finalize"))(), "MPI_Finalize");

    public static int CommRank(IntPtr comm)
    {
        int rank;
        Check(((delegate* unmanaged<IntPtr, int*, int>)Export("MPI_Comm_rank"))(comm, &rank), "MPI_Comm_rank");
        return rank;
    }

    public static int CommSize(IntPtr comm)
    {
        int size;
        Check(((delegate* unmanaged<IntPtr, int*, int>)Export("MPI_Comm_size"))(comm, &size), "MPI_Comm_size");
        return size;
    }

    public static void Allreduce(IntPtr send, IntPtr receive, int count, IntPtr datatype, IntPtr op, IntPtr comm) =>
        Check(((delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int>)Export("MPI_Allreduce"))(send, receive, count, datatype, op, comm),
              "MPI_Allreduce");

    public static void Bcast(IntPtr buffer, int count, IntPtr datatype, int root, IntPtr comm) =>
        Check(((delegate* unmanaged<IntPtr, int, IntPtr, int, IntPtr, int>)Export("MPI_Bcast"))(buffer, count, datatype, root, comm), "MPI_Bcast");

    public static void Allgather(IntPtr send, int count, IntPtr datatype, IntPtr receive, IntPtr comm) =>
        Check(((delegate* unmanaged<IntPtr, int, IntPtr, IntPtr, int, IntPtr, IntPtr, int>)Export("MPI_Allgather"))(
            send, count, datatype, receive, count, datatype, comm), "MPI_Allgather");

    public static void Barrier(IntPtr comm) =>
        Check(((delegate* unmanaged<IntPtr, int>)Export("MPI_Barrier"))(comm), "MPI_Barrier");
}
