using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Data;

/// <summary>
/// Cuts a split's token stream (documents + EOS back to back, SPEC §2.1) into sequences of L tokens: sequence k is
/// tokens [kL, kL + L); the stream's tail is the last sequence, padded with <see cref="PadId"/> (so every token
/// appears exactly once per epoch). <see cref="Next"/> serves training batches of B sequences in a seeded shuffled order,
/// epoch after epoch (a batch may span two epochs, so B is fixed); <see cref="InOrder"/> serves validation.
/// </summary>
/// <remarks>
/// With <see cref="PackingMode.Documents"/> positions restart at 0 at every document start, and a document cut by a
/// sequence boundary continues in its next sequence as a new document with positions from 0 (Open-dLLM splits documents
/// longer than max_seq_len into chunks the same way). Epoch e's order is a Fisher–Yates permutation driven by SplitMix64
/// seeded with (seed, e), identical on every platform. <see cref="Cursor"/> records where the stream stands; setting it
/// (e.g. from <see cref="LoaderCursor.Load"/>) resumes with exactly the batches that would have followed.
/// <para>With <see cref="PackingMode.Examples"/> sequence k is document k instead (one example per row, right-padded with
/// <see cref="PadId"/>, visible; the shuffling, cursor and resume work the same way over documents).</para>
/// </remarks>
public sealed class PackedLoader
{
    readonly TokenSplit _split;
    int[]? _order;
    int _orderEpoch = -1;

    /// <summary>A loader over <paramref name="split"/> with batches of <paramref name="batchSize"/> × <paramref name="sequenceLength"/>.</summary>
    public PackedLoader(TokenSplit split, int batchSize, int sequenceLength, PackingMode mode = PackingMode.Documents,
                        long seed = 0, Device? device = null, int? padId = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 1);
        _split = split;
        if (split.TokenCount == 0) throw new InvalidOperationException($"split {split.Name} holds no tokens; prepare more data or a larger validation fraction");
        long sequences = mode == PackingMode.Examples ? split.DocumentCount : (split.TokenCount + sequenceLength - 1) / sequenceLength;
        if (mode == PackingMode.Examples) EnsureExamplesFit(split, sequenceLength);
        if (sequences > Array.MaxLength) throw new NotSupportedException($"split {split.Name}: {sequences} sequences per epoch is too many; use a longer sequence length");
        (BatchSize, SequenceLength, Mode, Device, PadId) = (batchSize, sequenceLength, mode, device, padId ?? split.EosId);
        SequencesPerEpoch = (int)sequences;
        Cursor = new LoaderCursor(0, 0, seed, sequenceLength, mode, split.TokenCount);
    }

    /// <summary>B.</summary>
    public int BatchSize { get; }

    /// <summary>L.</summary>
    public int SequenceLength { get; }

    /// <summary>How sequences are built.</summary>
    public PackingMode Mode { get; }

    /// <summary>Where the tensors go (null: CPU).</summary>
    public Device? Device { get; }

    /// <summary>The id written into padding positions (default EOS).</summary>
    public int PadId { get; }

    /// <summary>Sequences per epoch: ⌈tokens / L⌉ (<see cref="PackingMode.Examples"/>: the number of documents).</summary>
    public int SequencesPerEpoch { get; }

    /// <summary>Where the training stream stands; set it to resume (it must belong to the same data and layout).</summary>
    public LoaderCursor Cursor
    {
        get;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.SequenceLength != SequenceLength || value.Mode != Mode || value.SplitTokens != _split.TokenCount)
                throw new InvalidOperationException(
                    $"data cursor is for sequence length {value.SequenceLength}, mode {value.Mode}, {value.SplitTokens} tokens; " +
                    $"this loader has {SequenceLength}, {Mode}, {_split.TokenCount} (split {_split.Name})");
            if (value.Index > SequencesPerEpoch) throw new InvalidOperationException($"data cursor index {value.Index} exceeds {SequencesPerEpoch} sequences per epoch");
            field = value;
        }
    }

    /// <summary>The next training batch (B sequences in shuffled order, continuing into the next epoch when one ends).</summary>
    public PackedBatch Next()
    {
        var sequences = new int[BatchSize];
        var (epoch, index) = (Cursor.Epoch, Cursor.Index);
        for (int b = 0; b < BatchSize; b++)
        {
            if (index == SequencesPerEpoch) (epoch, index) = (epoch + 1, 0);
            sequences[b] = Order(epoch, Cursor.Seed)[index++];
        }
        Cursor = Cursor with { Epoch = epoch, Index = index };
        return Build(sequences, Cursor);
    }

    /// <summary>Every sequence once, in stream order, without shuffling, in batches of B (the last may be smaller).
    /// Does not move <see cref="Cursor"/>.</summary>
    public IEnumerable<PackedBatch> InOrder()
    {
        for (int start = 0; start < SequencesPerEpoch; start += BatchSize)
        {
            var sequences = Enumerable.Range(start, Math.Min(BatchSize, SequencesPerEpoch - start)).ToArray();
            yield return Build(sequences, Cursor);
        }
    }

    /// <summary>Epoch <paramref name="epoch"/>'s order of sequence indices for <paramref name="seed"/>.</summary>
    public static int[] Permutation(int count, long seed, int epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        ulong state = (ulong)seed * 0x9E3779B97F4A7C15UL ^ ((ulong)epoch + 1) * 0xD1B54A32D192ED03UL;
        for (int i = count - 1; i > 0; i--)
        {
            int j = (int)Math.BigMul(SplitMix64(ref state), (ulong)(i + 1), out _);   // uniform in [0, i]
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    int[] Order(int epoch, long seed)
    {
        if (_orderEpoch != epoch || _order is null)
            (_order, _orderEpoch) = (Permutation(SequencesPerEpoch, seed, epoch), epoch);
        return _order;
    }

    /// <summary>Throws unless every document of <paramref name="split"/> fits in one row of <paramref name="length"/> tokens.</summary>
    static void EnsureExamplesFit(TokenSplit split, int length)
    {
        for (long d = 0; d < split.DocumentCount; d++)
        {
            long n = split.DocumentStart(d + 1) - split.DocumentStart(d);
            if (n > length)
                throw new InvalidOperationException($"split {split.Name}: example {d} has {n} tokens (EOS included), more than the sequence length {length}; " +
                    "prepare the data with that many tokens as the longest example (PrepareOptions.MaxExampleTokens) or raise the sequence length");
        }
    }

    /// <summary>One example per row: document k's tokens from position 0, then <see cref="PadId"/> (visible) up to L.</summary>
    PackedBatch BuildExamples(int[] sequences, LoaderCursor next)
    {
        int rows = sequences.Length, length = SequenceLength;
        var tokens = new long[rows * length];
        var positions = new long[rows * length];
        var prompt = new bool[rows * length];
        var buffer = new int[length];
        for (int r = 0; r < rows; r++)
        {
            long start = _split.DocumentStart(sequences[r]);
            int n = (int)(_split.DocumentStart(sequences[r] + 1) - start), promptLength = _split.PromptLength(sequences[r]);
            _split.ReadTokens(start, buffer.AsSpan(0, n));
            int o = r * length;
            for (int i = 0; i < length; i++)
                (tokens[o + i], positions[o + i], prompt[o + i]) = (i < n ? buffer[i] : PadId, i, i < promptLength);
        }
        long[] shape = [rows, length];
        return new PackedBatch(Move(tensor(tokens, shape)), Move(tensor(positions, shape)), Move(zeros(shape, ScalarType.Int64)),
                               Move(ones(shape, ScalarType.Bool)), 0, next, documentBoundaries: false,
                               prompt: _split.HasPrompts ? Move(tensor(prompt, shape)) : null);
    }

    PackedBatch Build(int[] sequences, LoaderCursor next)
    {
        if (Mode == PackingMode.Examples) return BuildExamples(sequences, next);
        int rows = sequences.Length, length = SequenceLength;
        var tokens = new long[rows * length];
        var positions = new long[rows * length];
        var documents = new long[rows * length];
        var real = new bool[rows * length];
        var buffer = new int[length];
        long padding = 0;
        bool boundaries = false;
        for (int r = 0; r < rows; r++)
        {
            long start = (long)sequences[r] * length;
            int n = (int)Math.Min(length, _split.TokenCount - start);
            _split.ReadTokens(start, buffer.AsSpan(0, n));
            int o = r * length;
            long document = _split.DocumentAt(start), nextStart = _split.DocumentStart(document + 1);
            long id = 0, position = 0;
            for (int i = 0; i < n; i++)
            {
                if (Mode == PackingMode.Documents && start + i == nextStart)
                {
                    (id, position, boundaries) = (id + 1, 0, true);
                    nextStart = _split.DocumentStart(++document + 1);
                }
                (tokens[o + i], positions[o + i], documents[o + i], real[o + i]) = (buffer[i], position++, id, true);
            }
            for (int i = n; i < length; i++) (tokens[o + i], positions[o + i], documents[o + i]) = (PadId, 0, -1);
            padding += length - n;
        }
        long[] shape = [rows, length];
        return new PackedBatch(Move(tensor(tokens, shape)), Move(tensor(positions, shape)), Move(tensor(documents, shape)),
                               Move(tensor(real, shape)), padding, next, boundaries);
    }

    Tensor Move(Tensor t)
    {
        if (Device is null || Device.type == DeviceType.CPU) return t;
        var moved = t.to(Device);
        t.Dispose();
        return moved;
    }
}
