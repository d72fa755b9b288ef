{{/* Labels on every object of the gateway chart. */}}
{{- define "canal.labels" -}}
app.kubernetes.io/name: canal-gateway
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
app.kubernetes.io/part-of: canal
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The labels the Service, the Istio Gateway, PDB and the seed's examples select. */}}
{{- define "canal.selectorLabels" -}}
app: {{ .Values.name }}
istio: gateway
{{- end }}

{{/* One anti-affinity term, hard or soft, for a topology key. */}}
{{- define "canal.antiAffinityTerm" -}}
{{- $term := dict "topologyKey" .key "labelSelector" (dict "matchLabels" (dict "app" .name)) -}}
{{- if eq .mode "required" }}
requiredDuringSchedulingIgnoredDuringExecution:
  - {{ toYaml $term | nindent 4 | trim }}
{{- else if eq .mode "preferred" }}
preferredDuringSchedulingIgnoredDuringExecution:
  - weight: {{ .weight }}
    podAffinityTerm:
      {{- toYaml $term | nindent 6 }}
{{- end }}
{{- end }}

{{- define "canal.validate" -}}
{{- range list .Values.antiAffinity.nodes .Values.antiAffinity.zones }}
{{- if not (has . (list "required" "preferred" "none")) }}
{{- fail (printf "antiAffinity.nodes/zones must be required, preferred or none, got %q" .) }}
{{- end }}
{{- end }}
{{- if not .Values.service.ports }}
{{- fail "service.ports must list at least one port (the ports of the Services redirected to Canal)" }}
{{- end }}
{{- $names := dict }}
{{- range .Values.service.ports }}
{{- if or (not (kindIs "map" .)) (not .name) (not .port) }}
{{- fail "every service.ports entry needs a name and a port" }}
{{- end }}
{{- if hasKey $names .name }}
{{- fail (printf "service.ports: duplicate name %q" .name) }}
{{- end }}
{{- $_ := set $names .name true }}
{{- end }}
{{- with .Values.istioGateway.tablePort }}
{{- $table := . | int }}
{{- if and (ge $table 15000) (le $table 15090) }}
{{- fail (printf "istioGateway.tablePort %d is in Istio's reserved range 15000-15090; use e.g. 15099" $table) }}
{{- end }}
{{- range $.Values.service.ports }}
{{- if or (eq ((.targetPort | default .port) | int) $table) (eq (.port | int) $table) }}
{{- fail (printf "istioGateway.tablePort %d is also service.ports %q: the table server must not carry traffic" $table .name) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.ecds.enabled (not .Values.ecds.filterImage) }}
{{- fail "ecds.enabled needs ecds.filterImage: an image that contains the filter (e.g. the canal controller image <hub>/canal:<tag>)" }}
{{- end }}
{{- end }}
