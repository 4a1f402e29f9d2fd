using GptjAspire.CpuBackend.Serving;
using GptjAspire.ServiceDefaults;

// Content root at the binaries: appsettings.json (with the grpc endpoint's Http2 protocol) loads from any working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddServiceDefaults();
builder.AddInferenceServer();

var app = builder.Build();

app.MapInferenceServer();
app.MapDefaultEndpoints();

// A model that failed to load never will: exit non-zero so the supervisor (Aspire, Kubernetes) sees the failure
// instead of a server that stays unready for good.
var model = app.Services.GetRequiredService<ModelHost>();
model.LoadFailed.Register(app.Lifetime.StopApplication);

app.Run();
return model.Failure is null ? 0 : 1;
