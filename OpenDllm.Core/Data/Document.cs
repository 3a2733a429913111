namespace OpenDllm.Data;

/// <summary>One raw training document: a file, a JSONL line or a Parquet row.</summary>
/// <param name="Id">Stable identity within its corpus (a relative path, <c>file:line</c> or <c>file:row</c>); the
/// train/validation split hashes it (<see cref="DocumentSplit"/>), so the same corpus always splits the same way.</param>
/// <param name="Text">The document's text, decoded from UTF-8.</param>
public sealed record Document(string Id, string Text);
