using System.Text.Json;
using OpenDllm.Config;

namespace OpenDllm.Tests.Config;

public class ModelConfigTests
{
    [Fact]
    public void BindsEveryQwen2FieldOfTheFixture()
    {
        var config = ModelConfig.Load(Fixture.GoldenDir("tiny_untied_hd24"));
        Assert.Equal(64, config.HiddenSize);
        Assert.Equal(96, config.IntermediateSize);
        Assert.Equal(3, config.NumHiddenLayers);
        Assert.Equal(4, config.NumAttentionHeads);
        Assert.Equal(1, config.KeyValueHeads);
        Assert.Equal(24, config.HeadDim);
        Assert.Equal(10000.0, config.RopeTheta);
        Assert.Equal(257, config.VocabSize);
        Assert.False(config.TieWordEmbeddings);
        Assert.Empty(config.UnknownKeys);
    }

    [Fact]
    public void UnknownKeysAreKeptReportedAndWrittenBack()
    {
        var dir = Directory.CreateTempSubdirectory("opendllm-config-").FullName;
        try
        {
            var json = File.ReadAllText(Path.Combine(Fixture.GoldenDir("tiny"), "config.json"))
                .TrimEnd().TrimEnd('}') + ", \"my_custom_flag\": {\"a\": [1, 2]}, \"initializer_range\": 0.02 }";
            File.WriteAllText(Path.Combine(dir, "config.json"), json);
            var config = ModelConfig.Load(dir);
            Assert.Equal(["my_custom_flag"], config.UnknownKeys);       // initializer_range is a known Qwen2 key
            var saved = Path.Combine(dir, "saved");
            config.Save(saved);
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(saved, "config.json")));
            Assert.Equal(2, doc.RootElement.GetProperty("my_custom_flag").GetProperty("a")[1].GetInt32());
            Assert.Equal(0.02, doc.RootElement.GetProperty("initializer_range").GetDouble());
            Assert.Equal(config.ToJson(), ModelConfig.Load(saved).ToJson());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("\"hidden_size\": 64", "\"hidden_size\": 0", "hidden_size")]
    [InlineData("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3", "num_key_value_heads")]
    [InlineData("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "hidden_act")]
    [InlineData("\"use_sliding_window\": false", "\"use_sliding_window\": true", "use_sliding_window")]
    [InlineData("\"vocab_size\": 300", "\"vocab_size\": \"many\"", "config.json")]
    public void InvalidFieldsAreNamedInTheError(string from, string to, string named)
    {
        var dir = Directory.CreateTempSubdirectory("opendllm-config-").FullName;
        try
        {
            var text = File.ReadAllText(Path.Combine(Fixture.GoldenDir("tiny"), "config.json"));
            Assert.Contains(from, text);
            File.WriteAllText(Path.Combine(dir, "config.json"), text.Replace(from, to));
            var error = Assert.ThrowsAny<Exception>(() => ModelConfig.Load(dir));
            Assert.True(error is ArgumentOutOfRangeException or InvalidDataException, error.GetType().Name);
            Assert.Contains(named, error.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void MissingConfigNamesThePath()
    {
        var error = Assert.Throws<FileNotFoundException>(() => ModelConfig.Load("/nonexistent/model"));
        Assert.Contains("/nonexistent/model", error.Message);
    }

    [Fact]
    public void HeadDimDefaultsToHiddenOverHeads()
    {
        Assert.Equal(64, ModelConfig.Qwen2_5_Coder_0_5B.HeadDim);
        Assert.Equal(8, ModelConfig.Tiny.HeadDim);
        Assert.Empty(ModelConfig.Qwen2_5_Coder_0_5B.UnknownKeys);
    }
}
