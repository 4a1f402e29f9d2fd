using GptjAspire.ServiceDefaults;
using GptjAspire.Preprocessor;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddPreprocessor();

var app = builder.Build();

app.MapPreprocessor();
app.MapDefaultEndpoints();

app.Run();
