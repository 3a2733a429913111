using static TorchSharp.torch;

namespace OpenDllm.Attention;

/// <summary>
/// Combines a policy with key padding and packed-document boundaries into the one boolean mask the model's
/// attention uses: [B or 1, 1, Lq, Lk], true = may attend, or null when everything is visible.
/// </summary>
public static class AttentionMaskBuilder
{
    /// <param name="policy">causal, bidirectional, block-diffusion, … (absolute key indices).</param>
    /// <param name="queryLength">Lq: tokens fed in this call.</param>
    /// <param name="keyLength">Lk: cached keys plus this call's keys.</param>
    /// <param name="queryOffset">absolute key index of the first query (the cache write position).</param>
    /// <param name="keyPadding">[B, Lk] bool, true for real tokens; padding keys are never attended.</param>
    /// <param name="queryDocuments">[B, Lq] document ids of the queries (packed sequences, SPEC §2.1).</param>
    /// <param name="keyDocuments">[B, Lk] document ids of the keys; a query attends only inside its own document.</param>
    public static Tensor? Build(AttentionPolicy policy, long queryLength, long keyLength, long queryOffset, Device device,
                                Tensor? keyPadding = null, Tensor? queryDocuments = null, Tensor? keyDocuments = null)
    {
        Tensor? mask = policy.Allowed(queryLength, keyLength, queryOffset, device);   // [Lq, Lk] or [B?, ?, Lq, Lk]
        mask = mask is null ? null : ToFourDims(mask);
        if (keyPadding is not null)
        {
            if (keyPadding.shape.Length != 2 || keyPadding.shape[1] != keyLength)
                throw new ArgumentException($"key padding mask must be [B, {keyLength}], got [{string.Join(", ", keyPadding.shape)}]");
            var pad = keyPadding.to(ScalarType.Bool).to(device).unsqueeze(1).unsqueeze(1);   // [B, 1, 1, Lk]
            mask = mask is null ? pad : mask & pad;
        }
        if (queryDocuments is not null || keyDocuments is not null)
        {
            if (queryDocuments is null || keyDocuments is null)
                throw new ArgumentException("packed-document attention needs both query and key document ids");
            var same = queryDocuments.to(device).unsqueeze(2).eq(keyDocuments.to(device).unsqueeze(1)).unsqueeze(1); // [B,1,Lq,Lk]
            mask = mask is null ? same : mask & same;
        }
        if (mask is null) return null;
        // A query that may see no key at all (e.g. a padding query) would give NaN; let it see everything instead.
        // Its output is meaningless either way and never used.
        var none = mask.any(-1, keepdim: true).logical_not();
        return mask | none;
    }

    static Tensor ToFourDims(Tensor mask) => mask.dim() switch
    {
        2 => mask.unsqueeze(0).unsqueeze(0),
        3 => mask.unsqueeze(1),
        4 => mask,
        _ => throw new ArgumentException($"attention mask must have 2 to 4 dimensions, got {mask.dim()}"),
    };
}
