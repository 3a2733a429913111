using System.Text;

namespace OpenDllm.Data;

/// <summary>One turn of a chat: <c>system</c>, <c>user</c> or <c>assistant</c>, and its text.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// The chat template SFT data with <c>messages</c> is rendered with: ChatML, the format of Qwen's templates,
/// <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c> per turn. The last message is the response and must come
/// from the assistant; everything before it, followed by the generation prompt <c>&lt;|im_start|&gt;assistant\n</c>, is
/// the prompt (never masked, never scored). The response is the last message's content alone: the tokenizer's EOS, which
/// <see cref="CorpusPreparer"/> appends and pads with, ends the turn in place of <c>&lt;|im_end|&gt;</c> (dllm's
/// <c>label_pad_token_id = eos</c>), so the model learns to stop by emitting EOS.
/// </summary>
/// <remarks>
/// The markers are plain text to every tokenizer: a Hugging Face tokenizer that has <c>&lt;|im_start|&gt;</c> and
/// <c>&lt;|im_end|&gt;</c> as special tokens (Qwen2/2.5/3) maps them to their ids (<see cref="Tokenization.ITokenizer.Encode"/>),
/// and the byte tokenizer spells them out in bytes, which a byte-level model learns like any other text. Sample from a
/// model fine-tuned this way with the same rendering (<see cref="Prompt"/>).
/// </remarks>
public static class ChatTemplate
{
    /// <summary>The template's name, recorded nowhere else: ChatML is the only one.</summary>
    public const string Name = "chatml";

    /// <summary>The roles a message may have.</summary>
    public static readonly IReadOnlyList<string> Roles = ["system", "user", "assistant"];

    /// <summary>One turn: <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c>.</summary>
    public static string Turn(ChatMessage message) => $"<|im_start|>{message.Role}\n{message.Content}<|im_end|>\n";

    /// <summary>The prompt for the assistant's next turn: every turn of <paramref name="history"/>, then <c>&lt;|im_start|&gt;assistant\n</c>.</summary>
    public static string Prompt(IEnumerable<ChatMessage> history)
    {
        var text = new StringBuilder();
        foreach (var message in history) text.Append(Turn(message));
        return text.Append("<|im_start|>assistant\n").ToString();
    }

    /// <summary>
    /// Splits a chat into (prompt, response): the last message is the response (it must be the assistant's), the rest is
    /// rendered with <see cref="Prompt"/>.
    /// </summary>
    /// <exception cref="ArgumentException">No messages, or the last one is not the assistant's.</exception>
    public static (string Prompt, string Response) Apply(IReadOnlyList<ChatMessage> messages)
    {
        if (messages.Count == 0) throw new ArgumentException("\"messages\" is empty; it needs at least the assistant's answer");
        var last = messages[^1];
        if (last.Role != "assistant")
            throw new ArgumentException($"the last message has role \"{last.Role}\"; the last message is the response and must have role \"assistant\"");
        return (Prompt(messages.Take(messages.Count - 1)), last.Content);
    }
}
