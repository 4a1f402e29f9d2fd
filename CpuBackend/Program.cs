using GptjAspire.CpuBackend.Serving;
using GptjAspire.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddInferenceServer();

var app = builder.Build();

app.MapInferenceServer();
app.MapDefaultEndpoints();

app.Run();
