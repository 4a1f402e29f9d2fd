using Microsoft.Extensions.DependencyInjection.Extensions;

namespace GptjAspire.Gateway.Admission;

/// <summary>Registers the <see cref="AdmissionQueue"/> with its options, validated at startup.</summary>
public static class AdmissionRegistration
{
    public static IServiceCollection AddAdmission(this IServiceCollection services)
    {
        services.AddOptions<AdmissionOptions>().BindConfiguration(AdmissionOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<AdmissionQueue>();
        return services;
    }
}
