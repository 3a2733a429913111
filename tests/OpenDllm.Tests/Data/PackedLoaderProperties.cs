using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Data;
using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Data;

/// <summary>The packer on random document lengths, sequence lengths and shard sizes: the real tokens of all sequences, in
/// order, are the stream; positions count from each document start or sequence start; document ids step exactly there.</summary>
public sealed class PackedLoaderProperties
{
    public sealed record Layout(int[] DocumentLengths, int SequenceLength, int BatchSize, int ShardTokens)
    {
        public override string ToString() =>
            $"docs [{string.Join(", ", DocumentLengths)}], L {SequenceLength}, B {BatchSize}, shard {ShardTokens}";
    }

    static Gen<Layout> Layouts() =>
        from count in Gen.Choose(1, 12)
        from lengths in Gen.ArrayOf(Gen.Choose(1, 40), count)
        from sequenceLength in Gen.Choose(1, 20)
        from batchSize in Gen.Choose(1, 4)
        from shardTokens in Gen.Choose(8, 80)
        select new Layout(lengths, sequenceLength, batchSize, shardTokens);

    static bool Holds(Layout layout)
    {
        using var temp = new DataTemp();
        // A document of n tokens: n − 1 letters, then EOS.
        var docs = layout.DocumentLengths.Select((n, i) => new Document($"d{i}", new string((char)('a' + i % 26), n - 1))).ToList();
        CorpusPreparer.Prepare(new ListCorpus(docs), ByteTokenizer.Instance, temp.Path + "/s",
            new PrepareOptions { ValidationFraction = 0, ShardTokens = layout.ShardTokens });
        using var set = TokenShardSet.Open(temp.Path + "/s");
        var starts = new HashSet<long>();
        long total = 0;
        foreach (var n in layout.DocumentLengths) { starts.Add(total); total += n; }
        var stream = new int[total];
        set.Train.ReadTokens(0, stream);

        var loader = new PackedLoader(set.Train, layout.BatchSize, layout.SequenceLength);
        long global = 0;
        foreach (var batch in loader.InOrder())
        {
            using var _ = batch;
            var (tokens, positions, documents, real) = PackedLoaderTests.Rows(batch);
            for (int r = 0; r < tokens.Length; r++)
            {
                long rowStart = global, lastStart = global, id = -1;
                for (int i = 0; i < layout.SequenceLength; i++)
                {
                    if (!real[r][i])
                    {
                        if (global != total || documents[r][i] != -1) return false;
                        continue;
                    }
                    if (starts.Contains(global) || global == rowStart) { lastStart = global; id++; }
                    if (tokens[r][i] != stream[global] || positions[r][i] != global - lastStart || documents[r][i] != id) return false;
                    global++;
                }
            }
        }
        return global == total && loader.SequencesPerEpoch == (total + layout.SequenceLength - 1) / layout.SequenceLength;
    }

    [Property(MaxTest = 40)]
    public Property PackingCoversTheStreamWithRestartingPositions() => Prop.ForAll(Layouts().ToArbitrary(), Holds);
}
