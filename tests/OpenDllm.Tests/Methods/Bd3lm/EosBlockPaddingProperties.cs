using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Methods.Bd3lm;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Methods.Bd3lm;

/// <summary>Invariants of EOS block padding (dllm's AppendEOSBlockWrapper applied to packed rows).</summary>
public class EosBlockPaddingProperties
{
    /// <summary>
    /// For random document lengths and block sizes: every document starts on a block boundary, no block holds two
    /// documents, each document's kept tokens are its first tokens in order, and the slots between them and the next
    /// boundary are EOS pads.
    /// </summary>
    [Property(MaxTest = 200)]
    public Property DocumentsStartOnBlocksAndKeepTheirTokensInOrder() =>
        Prop.ForAll(Gen.Zip(Gen.Zip(Gen.Choose(1, 6), Gen.Choose(1, 5)), Gen.ListOf(Gen.Choose(1, 12)).Where(l => l.Count >= 1)).ToArbitrary(), x =>
        {
            var ((b, rowsOfBlocks), lengths) = x;
            int length = b * rowsOfBlocks * 2;
            // one row: documents back to back, cut at the row length, padding (−1) after the stream if it is short
            var docs = new long[length]; var tokens = new long[length]; var positions = new long[length];
            int at = 0, id = 0;
            foreach (var n in lengths)
            {
                for (int i = 0; i < n && at < length; i++, at++) (docs[at], tokens[at], positions[at]) = (id, 1000 * id + i, i);
                id++;
                if (at == length) break;
            }
            for (int i = at; i < length; i++) (docs[i], tokens[i], positions[i]) = (-1, 0, 0);
            using var scope = NewDisposeScope();
            var d = tensor(docs).view(1, length);
            var layout = EosBlockPadding.Apply(tensor(tokens).view(1, length), tensor(positions).view(1, length), d, d >= 0, b, eosId: -7);
            var newDocs = layout.DocumentIds!.data<long>().ToArray();
            var newTokens = layout.Tokens.data<long>().ToArray();
            var pads = layout.EosPads.data<bool>().ToArray();
            bool ok = true;
            for (int j = 0; j < length; j++)
            {
                if (newDocs[j] < 0) continue;
                if (j == 0 || newDocs[j - 1] != newDocs[j]) ok &= j % b == 0;                        // starts on a boundary
                ok &= newDocs[j / b * b] == newDocs[j];                                                // one document per block
                int offset = j - Array.IndexOf(newDocs, newDocs[j]);
                ok &= pads[j] ? newTokens[j] == -7 : newTokens[j] == 1000 * newDocs[j] + offset;   // its own tokens in order, then EOS
            }
            return ok.Label($"b = {b}, lengths = [{string.Join(", ", lengths)}], docs = [{string.Join(", ", newDocs)}], tokens = [{string.Join(", ", newTokens)}]");
        });
}
