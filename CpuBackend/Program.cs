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
// instead of a server that stays unready for good. Stopping waits until the host has started: a stop requested
// while Kestrel is still binding (a checkpoint that fails in its first millisecond) aborts the host with an
// unhandled TaskCanceledException instead of a clean exit.
var model = app.Services.GetRequiredService<ModelHost>();
app.Lifetime.ApplicationStarted.Register(() => model.LoadFailed.Register(app.Lifetime.StopApplication));

app.Run();
return model.Failure is null ? 0 : 1;
