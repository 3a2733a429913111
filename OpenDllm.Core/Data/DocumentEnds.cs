using static TorchSharp.torch;

namespace OpenDllm.Data;

/// <summary>Where packed documents end, for losses that must not predict across a boundary (SPEC §2.1).</summary>
public static class DocumentEnds
{
    /// <summary>
    /// [B, L] bool, true at the last token of each packed document: its next position belongs to another document or is
    /// padding (or it is the row's last position). <paramref name="documentIds"/> [B, L]; <paramref name="real"/> [B, L] true = token.
    /// </summary>
    public static Tensor Of(Tensor documentIds, Tensor real)
    {
        long l = documentIds.shape[1];
        var next = documentIds.narrow(1, 1, l - 1).ne(documentIds.narrow(1, 0, l - 1)) | real.narrow(1, 1, l - 1).logical_not();
        return cat([next, ones(documentIds.shape[0], 1, dtype: ScalarType.Bool, device: documentIds.device)], 1) & real;
    }

    /// <summary>[B, L] bool: token j continues the document of token j − 1 and is real (Open-dLLM's next-token labels, SPEC §2.2).</summary>
    public static Tensor Continuations(Tensor documentIds, Tensor real)
    {
        var continues = documentIds.narrow(1, 1, documentIds.shape[1] - 1).eq(documentIds.narrow(1, 0, documentIds.shape[1] - 1));
        return cat([zeros(documentIds.shape[0], 1, dtype: ScalarType.Bool, device: documentIds.device), continues], 1) & real;
    }
}
