using GptjAspire.CpuBackend.Serving;
using GptjAspire.ServiceDefaults;

// Content root at the binaries: appsettings.json (with the grpc endpoint's Http2 protocol) loads from any working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddServiceDefaults();
builder.AddInferenceServer();

var app = builder.Build();

app.MapInferenceServer();
app.MapDefaultEndpoints();

app.Run();
