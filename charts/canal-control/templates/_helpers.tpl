{{/* Labels on every object of the controller chart. */}}
{{- define "canal-control.labels" -}}
app.kubernetes.io/name: canal-controller
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: canal
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "canal-control.selectorLabels" -}}
app: canal-controller
{{- end }}

{{- define "canal-control.image" -}}
{{- if not .Values.global.hub }}
{{- fail "global.hub is required: the registry you pushed the canal controller image to (make image), e.g. --set global.hub=registry.example.com/canal" }}
{{- end }}
{{- printf "%s/%s:%s" (trimSuffix "/" .Values.global.hub) .Values.image.name (.Values.global.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{- define "canal-control.wasmplugin" -}}
{{- eq .Values.delivery.mode "wasmplugin" }}
{{- end }}

{{- define "canal-control.validate" -}}
{{- if not (has .Values.delivery.mode (list "wasmplugin" "envoyfilter")) }}
{{- fail (printf "delivery.mode must be wasmplugin or envoyfilter, got %q" .Values.delivery.mode) }}
{{- end }}
{{- if eq .Values.delivery.mode "wasmplugin" }}
{{- if not .Values.wasm.url }}
{{- fail "wasm.url is required with delivery.mode=wasmplugin: where the gateways fetch the filter (oci://REGISTRY/canal-filter:TAG from make wasm-image, or https://.../canal.wasm)" }}
{{- end }}
{{- if not (regexMatch "^(oci|https?|file)://\\S+$" .Values.wasm.url) }}
{{- fail (printf "wasm.url must be an oci://, http(s):// or file:// URL, got %q" .Values.wasm.url) }}
{{- end }}
{{- if and .Values.wasm.sha256 (not (regexMatch "^[0-9a-f]{64}$" .Values.wasm.sha256)) }}
{{- fail "wasm.sha256 must be 64 lower-case hex digits" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The flags of `canal controller`, one per line; test/charts parses them with the real parser. */}}
{{- define "canal-control.args" -}}
- controller
- {{ printf "--namespace=%s" .Release.Namespace | quote }}
- {{ printf "--lease-name=%s" (.Values.controller.leaseName | toString) | quote }}
- {{ printf "--lease-duration=%s" (.Values.controller.leaseDurationSeconds | toString) | quote }}
{{- if eq .Values.delivery.mode "wasmplugin" }}
- {{ printf "--wasm-url=%s" (.Values.wasm.url | toString) | quote }}
{{- with .Values.wasm.sha256 }}
- {{ printf "--wasm-sha256=%s" (. | toString) | quote }}
{{- end }}
{{- with .Values.wasm.imagePullSecret }}
- {{ printf "--wasm-pull-secret=%s" (. | toString) | quote }}
{{- end }}
- {{ printf "--wasmplugin-shards=%s" (.Values.wasm.shards | default "auto" | toString) | quote }}
- {{ printf "--wasmplugin-table-port=%v" (.Values.wasm.tablePort | default 15099) | quote }}
{{- else }}
- --no-wasmplugin
- {{ printf "--ecds-address=0.0.0.0:%v" .Values.ecds.port | quote }}
- {{ printf "--wasm-path=%s" (.Values.ecds.wasmPath | toString) | quote }}
- {{ printf "--ecds-max-streams=%v" .Values.ecds.maxStreams | quote }}
{{- if .Values.ecds.tls.secretName }}
- "--ecds-tls-cert=/etc/canal/ecds-tls/tls.crt"
- "--ecds-tls-key=/etc/canal/ecds-tls/tls.key"
{{- if .Values.ecds.tls.requireClientCert }}
- "--ecds-tls-client-ca=/etc/canal/ecds-tls/ca.crt"
{{- end }}
{{- end }}
{{- end }}
- {{ printf "--cluster-domain=%s" (.Values.controller.clusterDomain | toString) | quote }}
- {{ printf "--metrics-address=0.0.0.0:%v" .Values.controller.metricsPort | quote }}
- {{ printf "--log-level=%s" (.Values.controller.logLevel | toString) | quote }}
{{- with .Values.controller.systemNamespaces }}
- {{ printf "--system-namespaces=%s" (join "," .) | quote }}
{{- end }}
{{- if .Values.dns.enabled }}
- --dns
- {{ printf "--dns-configmap=%s/%s" .Values.dns.namespace .Values.dns.configMap | quote }}
{{- with .Values.dns.mountPath }}
- {{ printf "--dns-mount-path=%s" (. | toString) | quote }}
{{- end }}
{{- with .Values.dns.ttl }}
- {{ printf "--dns-ttl=%s" (. | toString) | quote }}
{{- end }}
{{- with .Values.dns.drain }}
- {{ printf "--dns-drain=%s" (. | toString) | quote }}
{{- end }}
{{- if .Values.dns.dryRun }}
- --dns-dry-run
{{- end }}
{{- end }}
{{- range .Values.controller.extraArgs }}
- {{ . | toString | quote }}
{{- end }}
{{- end }}

{{/*
The labels of the gateway pods the cluster_header route patch applies to: routing.gatewaySelector
when set, else the pods the filter is delivered to (EnvoyFilter mode: ecds.gatewaySelector;
WasmPlugin mode: the default InternalGateway's workloadSelector, whose absence means the
controller's default app: canal-gateway). Never empty: an EnvoyFilter without a selector in
Istio's root namespace would patch every gateway of the mesh.
*/}}
{{- define "canal-control.routeSelector" -}}
{{- $labels := .Values.routing.gatewaySelector }}
{{- if not $labels }}
{{- if eq .Values.delivery.mode "envoyfilter" }}
{{- $labels = .Values.ecds.gatewaySelector }}
{{- else }}
{{- $labels = (.Values.internalGateway.workloadSelector | default dict).matchLabels | default (dict "app" "canal-gateway") }}
{{- end }}
{{- end }}
{{- if not $labels }}
{{- fail "routing.clusterHeaderRoute needs gateway pod labels: set routing.gatewaySelector (or ecds.gatewaySelector in EnvoyFilter mode)" }}
{{- end }}
{{- toYaml $labels }}
{{- end }}
