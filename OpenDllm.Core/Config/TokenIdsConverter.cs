using System.Text.Json;
using System.Text.Json.Serialization;

namespace OpenDllm.Config;

/// <summary>
/// A token-id key that Hugging Face writes either as one integer or as a list (<c>eos_token_id</c>): read as an array,
/// written back as an integer when it holds one id.
/// </summary>
public sealed class TokenIdsConverter : JsonConverter<int[]?>
{
    public override int[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null: return null;
            case JsonTokenType.Number: return [reader.GetInt32()];
            case JsonTokenType.StartArray:
                var ids = new List<int>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.Number) throw new JsonException("expected an integer token id");
                    ids.Add(reader.GetInt32());
                }
                return [.. ids];
            default: throw new JsonException("expected an integer token id or a list of them");
        }
    }

    public override void Write(Utf8JsonWriter writer, int[]? value, JsonSerializerOptions options)
    {
        if (value is null) { writer.WriteNullValue(); return; }
        if (value.Length == 1) { writer.WriteNumberValue(value[0]); return; }
        writer.WriteStartArray();
        foreach (var id in value) writer.WriteNumberValue(id);
        writer.WriteEndArray();
    }
}
