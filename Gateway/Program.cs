using GptjAspire.ServiceDefaults;
using GptjAspire.Gateway;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayApi();

var app = builder.Build();

app.MapGatewayApi();
app.MapDefaultEndpoints();

app.Run();
