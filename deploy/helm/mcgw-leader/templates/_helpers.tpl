{{/* mcgw's leader-side code uses the fixed namespace mcgw-clusterset. */}}
{{- define "mcgw.namespace" -}}
mcgw-clusterset
{{- end -}}

{{- define "mcgw.chart" -}}
{{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "mcgw.labels" -}}
app.kubernetes.io/name: mcgw
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mcgw
helm.sh/chart: {{ include "mcgw.chart" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "mcgw.selectorLabels" -}}
app.kubernetes.io/name: mcgw
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "mcgw.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{- define "mcgw.leaderSA" -}}
{{ .Values.leader.serviceAccount.name | default "mcgw-leader" }}
{{- end -}}

{{- define "mcgw.validate" -}}
{{- if and .Values.namespace.create (eq .Release.Namespace (include "mcgw.namespace" .)) -}}
{{- fail (printf "the chart creates namespace %s itself (namespace.create=true), so the release cannot be stored in it: install the release in another namespace (e.g. default), or create %s first and set namespace.create=false" (include "mcgw.namespace" .) (include "mcgw.namespace" .)) -}}
{{- end -}}
{{- end -}}
