namespace GptjAspire.Gateway.Routing;

/// <summary>Answers HEAD wherever GET is mapped (the Gateway's routes, <c>/health</c>, <c>/alive</c>, <c>/openapi/v1.json</c>),
/// as RFC 9110 §9.3.2 expects of every GET resource: the same status and headers, without the body.</summary>
/// <remarks>Minimal APIs map GET alone, so routing would answer HEAD with 405. A HEAD request is matched as GET and then
/// given its method back, so handlers, logs and error messages see what the client sent; Kestrel never sends a body in
/// answer to HEAD (it discards what the handler writes).</remarks>
public static class HeadRequests
{
    static readonly object RoutedAsGet = new();

    /// <summary>Adds routing to the pipeline here, with HEAD matched as GET: call it first, in place of the routing a
    /// WebApplication would otherwise add before everything else.</summary>
    public static WebApplication UseRoutingWithHead(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            if (HttpMethods.IsHead(context.Request.Method))
            {
                context.Request.Method = HttpMethods.Get;
                context.Items[RoutedAsGet] = true;
            }
            return next(context);
        });
        app.UseRouting();
        app.Use((context, next) =>
        {
            if (context.Items.Remove(RoutedAsGet))
                context.Request.Method = HttpMethods.Head;
            return next(context);
        });
        return app;
    }
}
