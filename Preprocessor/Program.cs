using GptjAspire.ServiceDefaults;
using GptjAspire.Preprocessor;

// Content root at the binaries: appsettings.json (with the grpc endpoint's Http2 protocol) loads from any working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddServiceDefaults();
builder.AddPreprocessor();

var app = builder.Build();

app.MapPreprocessor();
app.MapDefaultEndpoints();

app.Run();
