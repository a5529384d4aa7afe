{{/* A pre-install/pre-upgrade Job running one script of files/ in the services' image, with the services'
     security settings. Dict: root, job (name), weight, script, env (list of {name, value}), secretEnv (list of
     {name, ref: {secret, key}, site}). */}}
{{- define "mini-mpp.hookJob" -}}
{{- $root := .root -}}
{{- $hookName := include "mini-mpp.objectName" (dict "root" $root "component" "hooks") -}}
{{- $ctx := dict "root" $root "component" "hooks" -}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "mini-mpp.objectName" (dict "root" $root "component" .job) }}
  labels:
    {{- include "mini-mpp.labels" $ctx | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: {{ .weight | quote }}
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ $root.Values.hookJobs.backoffLimit }}
  activeDeadlineSeconds: {{ $root.Values.hookJobs.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "mini-mpp.labels" $ctx | nindent 8 }}
    spec:
      restartPolicy: Never
      serviceAccountName: {{ $hookName }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- include "mini-mpp.podSecurityContext" $root | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      containers:
        - name: {{ .job }}
          image: {{ include "mini-mpp.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: ["python", "/opt/mini-mpp/hooks/{{ .script }}"]
          env:
            {{- range .env }}
            - name: {{ .name }}
              value: {{ .value | quote }}
            {{- end }}
            {{- include "mini-mpp.commonEnv" $root | nindent 12 }}
            {{- range .secretEnv }}
            - name: {{ .name }}
              valueFrom:
                secretKeyRef:
                  name: {{ .ref.secret | replace "{site}" .site | quote }}
                  key: {{ .ref.key | replace "{site}" .site | quote }}
            {{- end }}
          resources:
            {{- toYaml $root.Values.hookJobs.resources | nindent 12 }}
          securityContext:
            {{- include "mini-mpp.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: scripts
              mountPath: /opt/mini-mpp/hooks
              readOnly: true
            {{- include "mini-mpp.kafkaCaMount" $root | nindent 12 }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        - name: scripts
          configMap:
            name: {{ $hookName }}
        {{- include "mini-mpp.kafkaCaVolume" $root | nindent 8 }}
{{- end -}}
