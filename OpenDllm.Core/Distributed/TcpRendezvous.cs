using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace OpenDllm.Distributed;

/// <summary>
/// torchrun-style rendezvous that carries one thing: rank 0's NCCL unique id to every other rank. Rank 0 listens on
/// <c>MASTER_PORT</c>; each other rank connects to <c>MASTER_ADDR:MASTER_PORT</c> (retrying until the timeout), says its
/// rank and the world size it was told, and receives the id. All communication after that is NCCL's.
/// </summary>
/// <param name="Rank"><c>RANK</c>: this process's index in the whole job (all nodes).</param>
/// <param name="WorldSize"><c>WORLD_SIZE</c>: processes in the whole job.</param>
/// <param name="MasterAddress"><c>MASTER_ADDR</c>: host name or address of rank 0's node.</param>
/// <param name="MasterPort"><c>MASTER_PORT</c>: a free TCP port on it.</param>
/// <param name="LocalRank"><c>LOCAL_RANK</c>: this process's index on its node (its CUDA device), or null.</param>
public sealed record TcpRendezvous(int Rank, int WorldSize, string MasterAddress, int MasterPort, int? LocalRank)
{
    static readonly byte[] Magic = "ODLLNCCL"u8.ToArray();

    /// <summary>Reads <c>RANK</c>, <c>WORLD_SIZE</c>, <c>MASTER_ADDR</c>, <c>MASTER_PORT</c>, <c>LOCAL_RANK</c>.</summary>
    /// <exception cref="InvalidOperationException">A variable is missing or out of range (named in the message).</exception>
    public static TcpRendezvous FromEnvironment(Func<string, string?> environment)
    {
        int world = Collectives.IntegerVariable(environment, "WORLD_SIZE") ?? throw Missing("WORLD_SIZE");
        int rank = Collectives.IntegerVariable(environment, "RANK") ?? throw Missing("RANK");
        if (world < 1 || rank >= world) throw new InvalidOperationException($"RANK={rank} with WORLD_SIZE={world}: expected 0 ≤ RANK < WORLD_SIZE");
        var address = environment("MASTER_ADDR") ?? throw Missing("MASTER_ADDR");
        int port = Collectives.IntegerVariable(environment, "MASTER_PORT") ?? throw Missing("MASTER_PORT");
        if (port is < 1 or > 65535) throw new InvalidOperationException($"MASTER_PORT={port}: expected 1 … 65535");
        return new TcpRendezvous(rank, world, address, port, Collectives.IntegerVariable(environment, "LOCAL_RANK"));

        static InvalidOperationException Missing(string name) =>
            new($"{name} is not set: a torchrun-style launch sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (opendllm launch does)");
    }

    /// <summary>Rank 0 makes the payload with <paramref name="makeOnRoot"/> and sends it to every other rank; every rank
    /// returns it.</summary>
    /// <exception cref="TimeoutException">Not every rank arrived, or rank 0 could not be reached, within <paramref name="timeout"/>.</exception>
    public byte[] Exchange(Func<byte[]> makeOnRoot, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try { return Rank == 0 ? Serve(makeOnRoot(), cancel.Token) : Fetch(cancel.Token); }
        catch (OperationCanceledException)
        {
            throw new TimeoutException(Rank == 0
                ? $"rendezvous: not all {WorldSize - 1} other ranks connected to port {MasterPort} within {timeout.TotalSeconds:G4} s"
                : $"rendezvous: rank 0 at {MasterAddress}:{MasterPort} did not answer within {timeout.TotalSeconds:G4} s");
        }
    }

    byte[] Serve(byte[] payload, CancellationToken cancel)
    {
        using var listener = new TcpListener(IPAddress.Any, MasterPort);
        listener.Start(WorldSize);
        var clients = new List<TcpClient>();
        try
        {
            var seen = new HashSet<int>();
            while (seen.Count < WorldSize - 1)
            {
                var client = listener.AcceptTcpClientAsync(cancel).AsTask().GetAwaiter().GetResult();
                clients.Add(client);
                var hello = ReadExactly(client.GetStream(), Magic.Length + 8, cancel);
                if (!hello.AsSpan(0, Magic.Length).SequenceEqual(Magic)) throw new InvalidDataException($"rendezvous: a foreign connection on port {MasterPort}");
                int rank = BinaryPrimitives.ReadInt32LittleEndian(hello.AsSpan(Magic.Length));
                int world = BinaryPrimitives.ReadInt32LittleEndian(hello.AsSpan(Magic.Length + 4));
                if (world != WorldSize) throw new InvalidOperationException($"rendezvous: rank {rank} was started with WORLD_SIZE={world}, rank 0 with {WorldSize}");
                if (rank <= 0 || rank >= WorldSize || !seen.Add(rank)) throw new InvalidOperationException($"rendezvous: rank {rank} arrived twice or is out of range");
            }
            var message = new byte[4 + payload.Length];
            BinaryPrimitives.WriteInt32LittleEndian(message, payload.Length);
            payload.CopyTo(message, 4);
            foreach (var client in clients) client.GetStream().WriteAsync(message, cancel).AsTask().GetAwaiter().GetResult();
            return payload;
        }
        finally { foreach (var client in clients) client.Dispose(); }
    }

    byte[] Fetch(CancellationToken cancel)
    {
        while (true)
        {
            using var client = new TcpClient();
            try { client.ConnectAsync(MasterAddress, MasterPort, cancel).AsTask().GetAwaiter().GetResult(); }
            catch (SocketException)
            {
                Task.Delay(200, cancel).GetAwaiter().GetResult();     // rank 0 not listening yet
                continue;
            }
            var stream = client.GetStream();
            var hello = new byte[Magic.Length + 8];
            Magic.CopyTo(hello, 0);
            BinaryPrimitives.WriteInt32LittleEndian(hello.AsSpan(Magic.Length), Rank);
            BinaryPrimitives.WriteInt32LittleEndian(hello.AsSpan(Magic.Length + 4), WorldSize);
            stream.WriteAsync(hello, cancel).AsTask().GetAwaiter().GetResult();
            int length = BinaryPrimitives.ReadInt32LittleEndian(ReadExactly(stream, 4, cancel));
            if (length is < 0 or > 1 << 20) throw new InvalidDataException($"rendezvous: rank 0 sent a payload of {length} bytes");
            return ReadExactly(stream, length, cancel);
        }
    }

    static byte[] ReadExactly(NetworkStream stream, int count, CancellationToken cancel)
    {
        var buffer = new byte[count];
        try { stream.ReadExactlyAsync(buffer, cancel).AsTask().GetAwaiter().GetResult(); }
        catch (EndOfStreamException) { throw new InvalidDataException("rendezvous: the connection closed early (a rank refused it; see rank 0's error)"); }
        return buffer;
    }
}
