using System.Runtime.CompilerServices;
using System.Text.Json;

namespace OpenDllm.Data;

/// <summary>
/// Prompt/response examples for supervised fine-tuning, from JSON Lines (one <c>.jsonl</c> file or a folder of them, read
/// in ordinal path order). Each line is one object with either
/// <list type="bullet">
/// <item><c>"prompt"</c> and <c>"response"</c> (strings), or</item>
/// <item><c>"messages"</c>: a list of <c>{"role": "system"|"user"|"assistant", "content": "…"}</c>, rendered with
/// <see cref="ChatTemplate"/> (the last message is the response),</item>
/// </list>
/// and optionally <c>"id"</c> (string or number; default <c>file:line</c>), which the hashed train/validation split uses,
/// and <c>"split"</c> (<c>"train"</c> or <c>"validation"</c>), which pins the example to that split. Other fields are
/// ignored. Blank lines are skipped; an example whose prompt and response are both empty is skipped and counted; anything
/// else malformed is an <see cref="InvalidDataException"/> naming the file, the line and the field.
/// </summary>
/// <remarks>
/// Each example becomes one <see cref="Document"/> with <see cref="Document.Prompt"/> set, which
/// <see cref="CorpusPreparer"/> turns into <c>tokenize(prompt) + tokenize(response) + [EOS]</c> and records the prompt's
/// length for (SPEC §2.7, dllm's SFT recipe and LLaDA's guidelines: the prompt is never masked).
/// </remarks>
public sealed class SftCorpus : ICorpus
{
    /// <summary>The corpus kind in recipes (<c>data.source: sft</c>) and <c>opendllm prepare --source sft</c>.</summary>
    public const string Kind = "sft";

    /// <summary>Examples from <paramref name="path"/> (a <c>.jsonl</c> file or a folder of them).</summary>
    public SftCorpus(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
    }

    /// <summary>The file or folder (absolute).</summary>
    public string Path { get; }

    /// <inheritdoc/>
    public CorpusStats Stats { get; } = new();

    /// <inheritdoc/>
    public string Description => $"sft {Path} (prompt/response or messages, {ChatTemplate.Name})";

    /// <inheritdoc/>
    public CorpusIdentity Identity() => new()
    {
        Kind = Kind, Path = Path,
        Files = FileListFingerprint.Of(CorpusFiles.Resolve(Path, ".jsonl", "SFT").Select(f => (CorpusFiles.IdPrefix(Path, f), new FileInfo(f)))),
    };

    /// <inheritdoc/>
    public long? TotalBytes => CorpusFiles.Resolve(Path, ".jsonl", "SFT").Sum(f => new FileInfo(f).Length);

    /// <inheritdoc/>
    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Stats.Reset();
        foreach (var file in CorpusFiles.Resolve(Path, ".jsonl", "SFT"))
        {
            var prefix = CorpusFiles.IdPrefix(Path, file);
            await foreach (var (lineNumber, line) in JsonlLines.ReadAsync(file, Stats, cancellationToken).ConfigureAwait(false))
            {
                var example = Parse(line, $"{file}:{lineNumber}", $"{prefix}:{lineNumber}");
                if (example.Prompt!.Length == 0 && example.Text.Length == 0)
                {
                    Stats.SkippedEmpty++;
                    continue;
                }
                Stats.Documents++;
                yield return example;
            }
        }
        if (Stats.Documents == 0) throw Stats.Empty(Description);
    }

    /// <summary>
    /// One example from one JSON line; <paramref name="where"/> (<c>file:line</c>) starts every error message,
    /// <paramref name="defaultId"/> is the id when the line has none.
    /// </summary>
    /// <exception cref="InvalidDataException">Not an example; the message names the place and the field.</exception>
    public static Document Parse(string line, string where, string defaultId)
    {
        JsonDocument json;
        try { json = JsonDocument.Parse(line); }
        catch (JsonException e) { throw new InvalidDataException($"{where}: not valid JSON ({e.Message})", e); }
        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{where}: expected a JSON object with \"prompt\" and \"response\" or \"messages\", got {root.ValueKind}");
            bool hasMessages = root.TryGetProperty("messages", out var messages);
            bool hasPrompt = root.TryGetProperty("prompt", out var prompt), hasResponse = root.TryGetProperty("response", out var response);
            string promptText, responseText;
            if (hasMessages)
            {
                if (hasPrompt || hasResponse)
                    throw new InvalidDataException($"{where}: give either \"messages\" or \"prompt\"/\"response\", not both");
                try { (promptText, responseText) = ChatTemplate.Apply(Messages(messages, where)); }
                catch (ArgumentException e) { throw new InvalidDataException($"{where}: field \"messages\": {e.Message}", e); }
            }
            else
            {
                if (!hasPrompt || !hasResponse)
                    throw new InvalidDataException($"{where}: no field \"{(hasPrompt ? "response" : "prompt")}\"; an example needs \"prompt\" and " +
                        $"\"response\" (strings) or \"messages\" (fields: {string.Join(", ", root.EnumerateObject().Select(p => p.Name))})");
                promptText = Text(prompt, where, "prompt");
                responseText = Text(response, where, "response");
            }
            var id = defaultId;
            if (root.TryGetProperty("id", out var idValue) && idValue.ValueKind != JsonValueKind.Null)
                id = idValue.ValueKind switch
                {
                    JsonValueKind.String => idValue.GetString()!,
                    JsonValueKind.Number => idValue.GetRawText(),
                    _ => throw new InvalidDataException($"{where}: field \"id\" is {idValue.ValueKind}, expected a string or a number"),
                };
            string? split = null;
            if (root.TryGetProperty("split", out var splitValue) && splitValue.ValueKind != JsonValueKind.Null)
            {
                split = splitValue.ValueKind == JsonValueKind.String ? splitValue.GetString() : null;
                if (split is not (DocumentSplit.Train or DocumentSplit.Validation))
                    throw new InvalidDataException($"{where}: field \"split\" is {splitValue.GetRawText()}; use \"{DocumentSplit.Train}\" or \"{DocumentSplit.Validation}\" (or leave it out)");
            }
            return new Document(id, responseText, promptText, split);
        }
    }

    static List<ChatMessage> Messages(JsonElement messages, string where)
    {
        if (messages.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{where}: field \"messages\" is {messages.ValueKind}, expected a list of {{\"role\", \"content\"}} objects");
        var list = new List<ChatMessage>();
        int index = 0;
        foreach (var m in messages.EnumerateArray())
        {
            var field = $"messages[{index++}]";
            if (m.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: field \"{field}\" is {m.ValueKind}, expected an object");
            if (!m.TryGetProperty("role", out var role)) throw new InvalidDataException($"{where}: field \"{field}\" has no \"role\"");
            if (!m.TryGetProperty("content", out var content)) throw new InvalidDataException($"{where}: field \"{field}\" has no \"content\"");
            var roleText = Text(role, where, field + ".role");
            if (!ChatTemplate.Roles.Contains(roleText))
                throw new InvalidDataException($"{where}: field \"{field}.role\" is \"{roleText}\"; use one of: {string.Join(", ", ChatTemplate.Roles)}");
            list.Add(new ChatMessage(roleText, Text(content, where, field + ".content")));
        }
        return list;
    }

    static string Text(JsonElement value, string where, string field) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()!
            : throw new InvalidDataException($"{where}: field \"{field}\" is {value.ValueKind}, expected a string");
}
