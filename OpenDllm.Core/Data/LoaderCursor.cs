using System.Text.Json;
using System.Text.Json.Serialization;
using OpenDllm.IO;

namespace OpenDllm.Data;

/// <summary>How <see cref="PackedLoader"/> turns a token stream into sequences.</summary>
public enum PackingMode
{
    /// <summary>Open-dLLM packing (SPEC §2.1–2.2): documents + EOS back to back; per-token document ids and position ids
    /// that restart at 0 per document; a document cut by a sequence boundary (or longer than L) continues as a new
    /// document, with positions from 0, in the next sequence.</summary>
    [JsonStringEnumMemberName("documents")]
    Documents,

    /// <summary>Plain chunking: contiguous windows, positions 0..L−1, one document id per sequence.</summary>
    [JsonStringEnumMemberName("chunks")]
    Chunks,

    /// <summary>One example per row, never packed (supervised fine-tuning, SPEC §1.6, §2.7): document k of the split fills
    /// row k from position 0 and is right-padded with EOS up to L. The padding stays visible and is part of the example
    /// (dllm's NoAttentionMaskWrapper with <c>label_pad_token_id = eos</c>), so a model learns to end a response with EOS;
    /// the batch marks the prompt positions (<see cref="PackedBatch.Prompt"/>). Every document must fit in L.</summary>
    [JsonStringEnumMemberName("examples")]
    Examples,
}

/// <summary>
/// Where a <see cref="PackedLoader"/> stands: the next sequence is number <see cref="Index"/> of epoch
/// <see cref="Epoch"/>'s shuffled order, shuffled with <see cref="Seed"/>. The other fields identify the data and layout
/// the cursor belongs to, so restoring it into a loader over different data fails instead of silently diverging.
/// Saved as snake_case JSON next to a trainer checkpoint.
/// </summary>
/// <param name="Epoch">Epoch of the next sequence (0-based).</param>
/// <param name="Index">Position of the next sequence in that epoch's order.</param>
/// <param name="Seed">Shuffle seed.</param>
/// <param name="SequenceLength">L.</param>
/// <param name="Mode">Packing mode.</param>
/// <param name="SplitTokens">Tokens in the split the loader reads.</param>
public sealed record LoaderCursor(int Epoch, long Index, long Seed, int SequenceLength, PackingMode Mode, long SplitTokens)
{
    /// <summary>Writes the cursor atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, DataJson.Readable));

    /// <summary>Reads a cursor written by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">Not a cursor file; the message names it.</exception>
    public static LoaderCursor Load(string path)
    {
        try
        {
            var cursor = JsonSerializer.Deserialize(File.ReadAllBytes(path), DataJson.Default.LoaderCursor);
            return cursor is { Epoch: >= 0, Index: >= 0, SequenceLength: > 0, SplitTokens: >= 0 } ? cursor
                : throw new InvalidDataException($"{path}: damaged data cursor (fields out of range)");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: damaged data cursor ({e.Message})", e);
        }
    }
}
