using System.Globalization;
using System.Runtime.InteropServices;
using OpenDllm.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Runtime;

/// <summary>One term of a <see cref="MemoryEstimate"/>.</summary>
public sealed record MemoryPart(string Name, long Bytes);

/// <summary>
/// A lower bound on the memory a training step or a sampling run must hold at its peak, counted from tensor shapes before
/// anything is allocated, so that a run that cannot fit is refused with the number instead of dying in the OOM killer
/// (or in a libtorch allocation error) minutes later.
/// </summary>
/// <remarks>
/// <para>Conservative in the direction that matters: every term is a tensor the current code certainly holds at the same
/// time, so the estimate never exceeds what a run really needs and a refusal is never wrong. Real peaks are higher
/// (allocator slack, temporaries of softmax and the loss, libtorch's workspace, the attention score matrices of kernels
/// that materialise them), so passing this check does not promise that a run fits.</para>
/// <para>With P parameters, e bytes per element (4 for float32, 2 for bfloat16), B rows, L positions, D hidden, I the MLP
/// width, H / H_kv attention / key-value heads of size d, N layers and V the vocabulary:</para>
/// <list type="bullet">
/// <item>training: weights, gradients and AdamW's two moments 4·P·e; activations kept for the backward pass
/// N·B·L·(4D + 2H·d + 2H_kv·d + 3I)·e (per layer: the residual input and two normed inputs, q, k, v, attention output,
/// and the MLP's gate, up and their product); the boolean document mask B·L² bytes when packed documents are kept
/// apart; the logits B·L·V·e.</item>
/// <item>sampling (the model already loaded): one layer's activations B·L·(D + 2I)·e, the logits B·L·V·e, and with a KV
/// cache 2·N·B·L·H_kv·d·e.</item>
/// </list>
/// <para>Measured against a real step (quickstart-sized model, B·L = 8192 tokens, CPU): the bound was 0.57–0.59 GB, the
/// resident memory grew by 1.3–1.5 GB, so the bound is below the real need by a factor of about 2.5 there.</para>
/// <para>Available memory: on the CPU <c>MemAvailable</c> of <c>/proc/meminfo</c>; on CUDA the device's total memory from
/// the CUDA driver (<c>cuDeviceTotalMem</c>) when it can be asked, else no check.</para>
/// </remarks>
public sealed record MemoryEstimate(string What, IReadOnlyList<MemoryPart> Parts)
{
    /// <summary>The sum of the parts.</summary>
    public long Bytes => Parts.Sum(p => p.Bytes);

    /// <summary>Parameters of a Qwen2 model with <paramref name="c"/> (a tied head counted once).</summary>
    public static long ParameterCount(ModelConfig c)
    {
        long d = c.HiddenSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.KeyValueHeads * c.HeadDim, i = c.IntermediateSize;
        long layer = d * q + q + 2 * (d * kv + kv) + q * d + 3 * d * i + 2 * d;
        return (long)c.VocabSize * d * (c.TieWordEmbeddings ? 1 : 2) + c.NumHiddenLayers * layer + d;
    }

    /// <summary>The lower bound of one training micro-batch (see the remarks for the terms).</summary>
    /// <param name="elementBytes">4 for float32 weights, 2 for bfloat16.</param>
    /// <param name="documentMask">Packed documents attend only inside themselves (a [B, 1, L, L] boolean mask).</param>
    public static MemoryEstimate ForTraining(ModelConfig c, long microBatch, long sequenceLength, int elementBytes, bool documentMask)
    {
        long p = ParameterCount(c), b = microBatch, l = sequenceLength, e = elementBytes;
        long perToken = 4L * c.HiddenSize + 2L * c.NumAttentionHeads * c.HeadDim + 2L * c.KeyValueHeads * c.HeadDim + 3L * c.IntermediateSize;
        var parts = new List<MemoryPart>
        {
            new("weights", p * e),
            new("gradients", p * e),
            new("AdamW moments", 2 * p * e),
            new("activations", Mul(c.NumHiddenLayers, b, l, perToken, e)),
            // the loss applies the head a chunk of rows at a time (Objectives.ChunkedCrossEntropy): one float32 chunk at most
            new("logits (one chunk)", Math.Min(Mul(b, l, c.VocabSize, 4), Objectives.ChunkedCrossEntropy.DefaultChunkBytes)),
        };
        if (documentMask) parts.Add(new("attention mask", Mul(b, l, l)));
        return new MemoryEstimate($"training (micro-batch {b} × {l} tokens)", parts);
    }

    /// <summary>The lower bound of sampling <paramref name="batch"/> rows of <paramref name="sequenceLength"/> tokens with a loaded model.</summary>
    public static MemoryEstimate ForSampling(ModelConfig c, long batch, long sequenceLength, int elementBytes, bool kvCache)
    {
        long b = batch, l = sequenceLength, e = elementBytes;
        var parts = new List<MemoryPart>
        {
            new("activations", Mul(b, l, c.HiddenSize + 2L * c.IntermediateSize, e)),
            new("logits", Mul(b, l, c.VocabSize, e)),
        };
        if (kvCache) parts.Add(new("KV cache", Mul(2, c.NumHiddenLayers, b, l, (long)c.KeyValueHeads * c.HeadDim, e)));
        return new MemoryEstimate($"sampling ({b} × {l} tokens)", parts);
    }

    /// <summary>Bytes a new allocation on <paramref name="device"/> can get, or null when that cannot be asked.</summary>
    public static long? AvailableBytes(Device device) =>
        device.type == DeviceType.CUDA ? CudaTotalBytes(Math.Max(0, device.index)) : CpuAvailableBytes();

    /// <summary>
    /// Throws <see cref="InsufficientMemoryException"/> when the estimate exceeds <paramref name="availableBytes"/>
    /// (null: unknown, no check); the message gives both numbers, the largest parts and <paramref name="advice"/>.
    /// </summary>
    public void EnsureFits(long? availableBytes, string where, string advice)
    {
        if (availableBytes is not { } available || Bytes <= available) return;
        var largest = string.Join(", ", Parts.Where(p => p.Bytes > 0).OrderByDescending(p => p.Bytes).Take(3).Select(p => $"{p.Name} {Format(p.Bytes)}"));
        throw new InsufficientMemoryException(
            $"{What} needs at least {Format(Bytes)} ({largest}) but {where} has {Format(available)} available; {advice}");
    }

    /// <summary><see cref="EnsureFits(long?, string, string)"/> against what <paramref name="device"/> has.</summary>
    public void EnsureFits(Device device, string advice) =>
        EnsureFits(AvailableBytes(device), device.type == DeviceType.CUDA ? $"{device}" : "this machine", advice);

    /// <summary>Bytes as GB/MB with one decimal (decimal units).</summary>
    public static string Format(long bytes) =>
        bytes >= 1_000_000_000 ? (bytes / 1e9).ToString("F1", CultureInfo.InvariantCulture) + " GB"
                               : (bytes / 1e6).ToString("F1", CultureInfo.InvariantCulture) + " MB";

    /// <summary>A product that saturates at <see cref="long.MaxValue"/> instead of overflowing.</summary>
    static long Mul(params long[] factors)
    {
        long product = 1;
        foreach (var f in factors)
            product = f != 0 && product > long.MaxValue / f ? long.MaxValue : product * f;
        return product;
    }

    /// <summary>MemAvailable of /proc/meminfo in bytes; null where there is no such file.</summary>
    static long? CpuAvailableBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    var kb = line["MemAvailable:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
                }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return null;
    }

    /// <summary>Total memory of CUDA device <paramref name="ordinal"/> from the driver API, or null when it cannot be asked.</summary>
    static long? CudaTotalBytes(int ordinal)
    {
        try
        {
            if (!NativeLibrary.TryLoad("libcuda.so.1", out var lib)) return null;
            if (!NativeLibrary.TryGetExport(lib, "cuInit", out var init) || !NativeLibrary.TryGetExport(lib, "cuDeviceGet", out var get)
                || !NativeLibrary.TryGetExport(lib, "cuDeviceTotalMem_v2", out var total)) return null;
            unsafe
            {
                if (((delegate* unmanaged<uint, int>)init)(0) != 0) return null;
                int device;
                if (((delegate* unmanaged<int*, int, int>)get)(&device, ordinal) != 0) return null;
                nuint bytes;
                if (((delegate* unmanaged<nuint*, int, int>)total)(&bytes, device) != 0) return null;
                return (long)bytes;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException) { return null; }
    }
}
