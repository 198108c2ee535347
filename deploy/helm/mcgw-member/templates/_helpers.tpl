{{/*
mcgw's code uses fixed namespaces: everything namespaced lives in mcgw-system, whatever the
release namespace is.
*/}}
{{- define "mcgw.namespace" -}}
mcgw-system
{{- end -}}

{{- define "mcgw.chart" -}}
{{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Labels on every object. */}}
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

{{/* Selector labels of one component; call with (dict "ctx" $ "component" "controller"). */}}
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

{{/* The Secret holding the leader cluster kubeconfig; the controller may read it and nothing else. */}}
{{- define "mcgw.leaderSecretName" -}}
{{ .Values.clusterSetMember.leader.secretName | default "mcgw-leader" }}
{{- end -}}

{{- define "mcgw.controllerSA" -}}
{{ .Values.controller.serviceAccount.name | default "mcgw-controller" }}
{{- end -}}

{{- define "mcgw.agentSA" -}}
{{ .Values.agent.serviceAccount.name | default "mcgw-agent" }}
{{- end -}}

{{/* Fails rendering on combinations that cannot work, with what to change. */}}
{{- define "mcgw.validate" -}}
{{- if and .Values.namespace.create (eq .Release.Namespace (include "mcgw.namespace" .)) -}}
{{- fail (printf "the chart creates namespace %s itself (namespace.create=true), so the release cannot be stored in it: install the release in another namespace (e.g. default), or create %s first and set namespace.create=false" (include "mcgw.namespace" .) (include "mcgw.namespace" .)) -}}
{{- end -}}
{{- if .Values.clusterSetMember.enabled -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" (.Values.clusterSetMember.clusterID | default "")) -}}
{{- fail "clusterSetMember.clusterID must be set to a DNS label (the ID given to `mcgw clusterset add-member --cluster-id`)" -}}
{{- end -}}
{{- if not .Values.clusterSetMember.podCIDRs -}}
{{- fail "clusterSetMember.podCIDRs must list this cluster's pod CIDRs" -}}
{{- end -}}
{{- end -}}
{{- end -}}
