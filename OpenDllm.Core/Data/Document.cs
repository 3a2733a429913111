namespace OpenDllm.Data;

/// <summary>One raw training document: a file, a JSONL line or a Parquet row, or one prompt/response example.</summary>
/// <param name="Id">Stable identity within its corpus (a relative path, <c>file:line</c> or <c>file:row</c>); the
/// train/validation split hashes it (<see cref="DocumentSplit"/>), so the same corpus always splits the same way.</param>
/// <param name="Text">The document's text, decoded from UTF-8; for a prompt/response example, the response.</param>
/// <param name="Prompt">For a prompt/response example (<see cref="SftCorpus"/>): the prompt, tokenized before the response,
/// never masked and never scored in supervised fine-tuning; null for a plain document.</param>
/// <param name="Split">The split the data itself names (<see cref="DocumentSplit.Train"/> or <see cref="DocumentSplit.Validation"/>),
/// which then wins over the hashed split; null to let the hash decide.</param>
public sealed record Document(string Id, string Text, string? Prompt = null, string? Split = null);
