using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace OpenDllm.Data;

/// <summary>
/// The deterministic train/validation split by document: a document goes to validation when
/// <c>u(id, seed) &lt; fraction</c>, where <c>u</c> is the first 8 bytes of SHA-256(<c>"{seed}:{id}"</c>) read as a
/// big-endian unsigned integer divided by 2^64, uniform in [0, 1). It depends only on the id and the seed, so it is
/// the same on every machine and for every reading order, and a document is never in both splits.
/// </summary>
public static class DocumentSplit
{
    /// <summary>The name of the training split (shard files and manifest key).</summary>
    public const string Train = "train";

    /// <summary>The name of the validation split.</summary>
    public const string Validation = "validation";

    /// <summary>The document's point in [0, 1) for <paramref name="seed"/>.</summary>
    public static double Unit(string id, long seed)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}:{id}"), hash);
        return (BinaryPrimitives.ReadUInt64BigEndian(hash) >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>True when document <paramref name="id"/> belongs to the validation split.</summary>
    public static bool IsValidation(string id, long seed, double fraction)
    {
        if (fraction is < 0 or > 1 || double.IsNaN(fraction))
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "the validation fraction must lie in [0, 1]");
        return Unit(id, seed) < fraction;
    }
}
