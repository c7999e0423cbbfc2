<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="ko_KR">
<context>
    <name>BatchPanel</name>
    <message>
        <source>same as input</source>
        <translation>입력과 같게</translation>
    </message>
    <message>
        <source>output folder</source>
        <translation>출력 폴더</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>찾아보기…</translation>
    </message>
    <message>
        <source>include sub-folders</source>
        <translation>하위 폴더 포함</translation>
    </message>
    <message>
        <source>Run batch</source>
        <translation>일괄 처리 실행</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>취소</translation>
    </message>
    <message>
        <source>Open output folder</source>
        <translation>출력 폴더 열기</translation>
    </message>
    <message>
        <source>files that could not be translated, and why</source>
        <translation>변환하지 못한 파일과 그 이유</translation>
    </message>
    <message>
        <source>Files that failed:</source>
        <translation>실패한 파일:</translation>
    </message>
    <message>
        <source>Output folder</source>
        <translation>출력 폴더</translation>
    </message>
    <message>
        <source>Format</source>
        <translation>형식</translation>
    </message>
    <message>
        <source>Pick a model and open a folder: the batch translates every image in it.</source>
        <translation>모델을 고르고 폴더를 여세요. 일괄 처리는 폴더 안의 모든 이미지를 변환합니다.</translation>
    </message>
    <message>
        <source>Translate every image in %1 with %2 (device %3, precision %4, %5 mode, at %6 % strength).</source>
        <translation>%1의 모든 이미지를 %2 모델로 변환합니다 (장치 %3, 정밀도 %4, %5 모드, 강도 %6%).</translation>
    </message>
    <message>
        <source>Translate every image in %1 with %2 (device %3, precision %4, %5 mode).</source>
        <translation>%1의 모든 이미지를 %2 모델로 변환합니다 (장치 %3, 정밀도 %4, %5 모드).</translation>
    </message>
    <message>
        <source>Pick a model and open a folder first.</source>
        <translation>먼저 모델을 고르고 폴더를 여세요.</translation>
    </message>
    <message>
        <source>Choose an output folder first.</source>
        <translation>먼저 출력 폴더를 고르세요.</translation>
    </message>
    <message>
        <source>starting…</source>
        <translation>시작하는 중…</translation>
    </message>
    <message>
        <source>images</source>
        <translation>장</translation>
    </message>
    <message>
        <source>written %1, skipped %2 (already done), failed %3</source>
        <translation>저장 %1, 건너뜀 %2 (이미 완료), 실패 %3</translation>
    </message>
    <message>
        <source>cancelled: finished outputs are kept; run again to continue</source>
        <translation>취소됨: 완성된 결과는 남아 있습니다. 다시 실행하면 이어서 처리합니다</translation>
    </message>
</context>
<context>
    <name>Choices</name>
    <message>
        <source>auto</source>
        <translation>자동</translation>
    </message>
    <message>
        <source>cpu</source>
        <translation>CPU</translation>
    </message>
    <message>
        <source>cuda</source>
        <translation>CUDA</translation>
    </message>
    <message>
        <source>mps</source>
        <translation>MPS</translation>
    </message>
    <message>
        <source>off</source>
        <translation>끔</translation>
    </message>
    <message>
        <source>eval</source>
        <translation>평가</translation>
    </message>
    <message>
        <source>reference</source>
        <translation>참조</translation>
    </message>
    <message>
        <source>exact</source>
        <translation>정확</translation>
    </message>
    <message>
        <source>fast</source>
        <translation>빠름</translation>
    </message>
    <message>
        <source>bf16 where the device computes it natively and it keeps this model&apos;s pictures (checked once), else fp32</source>
        <translation>장치가 bf16을 직접 계산하고 이 모델의 그림이 그대로 유지되면 bf16(한 번 확인), 아니면 fp32</translation>
    </message>
    <message>
        <source>exact: the reference implementation&apos;s pixels</source>
        <translation>정확: 참조 구현과 같은 픽셀</translation>
    </message>
    <message>
        <source>faster where the device computes it natively (recent GPUs, CPUs with AVX512-BF16 or AMX); a little less exact</source>
        <translation>장치가 직접 계산하는 곳(최신 GPU, AVX512-BF16 또는 AMX를 지원하는 CPU)에서 더 빠름. 정확도는 조금 낮음</translation>
    </message>
    <message>
        <source>faster on GPUs; a little less exact (the CPU runs fp32 instead)</source>
        <translation>GPU에서 더 빠름. 정확도는 조금 낮음 (CPU에서는 fp32로 실행)</translation>
    </message>
    <message>
        <source>running statistics, no dropout: deterministic (default)</source>
        <translation>누적 통계 사용, 드롭아웃 없음: 항상 같은 결과 (기본값)</translation>
    </message>
    <message>
        <source>batch statistics and dropout, as the reference&apos;s test.py; repeatable with a seed</source>
        <translation>배치 통계와 드롭아웃 사용 (참조 구현의 test.py와 같음). 시드를 정하면 같은 결과</translation>
    </message>
    <message>
        <source>clean dark lines on white, like a pencil sketch</source>
        <translation>흰 바탕에 깔끔한 검은 선, 연필 스케치처럼</translation>
    </message>
    <message>
        <source>plain Canny edges, black on white (as the reference&apos;s edges2shoes)</source>
        <translation>흰 바탕에 검은 Canny 윤곽선 (참조 구현의 edges2shoes와 같음)</translation>
    </message>
    <message>
        <source>the photo in gray, for colourising</source>
        <translation>흑백 사진, 채색 학습용</translation>
    </message>
    <message>
        <source>the photo blurred, for sharpening</source>
        <translation>흐리게 한 사진, 선명하게 하기 학습용</translation>
    </message>
    <message>
        <source>the photo at a quarter of its resolution, for upscaling</source>
        <translation>해상도를 4분의 1로 줄인 사진, 업스케일 학습용</translation>
    </message>
</context>
<context>
    <name>CompareView</name>
    <message>
        <source>Divider position: before (input) on the left, after (output) on the right</source>
        <translation>구분선 위치: 왼쪽은 변환 전(입력), 오른쪽은 변환 후(출력)</translation>
    </message>
</context>
<context>
    <name>HeatLegend</name>
    <message>
        <source>looks fake</source>
        <translation>가짜 같음</translation>
    </message>
    <message>
        <source>looks real</source>
        <translation>진짜 같음</translation>
    </message>
    <message>
        <source>The discriminator&apos;s realness per patch: 0 (purple) to 1 (yellow), the same scale for every image.</source>
        <translation>패치별 판별자의 진짜다움: 0(보라)부터 1(노랑)까지, 모든 이미지에 같은 눈금.</translation>
    </message>
    <message>
        <source>least real here</source>
        <translation>이 안에서 가장 가짜 같음</translation>
    </message>
    <message>
        <source>most real here</source>
        <translation>이 안에서 가장 진짜 같음</translation>
    </message>
    <message>
        <source>The discriminator&apos;s score per patch, stretched over this image&apos;s own lowest (purple) and highest (yellow) scores: compare places within one image, not across images.</source>
        <translation>패치별 판별자 점수를 이 이미지의 최저(보라)와 최고(노랑) 점수에 맞춰 늘인 것입니다. 한 이미지 안의 위치끼리 비교하고, 이미지끼리는 비교하지 마세요.</translation>
    </message>
</context>
<context>
    <name>HistoryPanel</name>
    <message>
        <source>filter by model or folder</source>
        <translation>모델이나 폴더로 거르기</translation>
    </message>
    <message>
        <source>all runs</source>
        <translation>모든 실행</translation>
    </message>
    <message>
        <source>When</source>
        <translation>언제</translation>
    </message>
    <message>
        <source>Kind</source>
        <translation>종류</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>모델</translation>
    </message>
    <message>
        <source>Input</source>
        <translation>입력</translation>
    </message>
    <message>
        <source>Output</source>
        <translation>출력</translation>
    </message>
    <message>
        <source>Written / failed</source>
        <translation>저장 / 실패</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>설정</translation>
    </message>
    <message>
        <source>Duration</source>
        <translation>걸린 시간</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>상태</translation>
    </message>
    <message>
        <source>Open output folder</source>
        <translation>출력 폴더 열기</translation>
    </message>
    <message>
        <source>Run again</source>
        <translation>다시 실행</translation>
    </message>
    <message>
        <source>Use this run&apos;s model, folders and settings and start it again; outputs already in the output folder are kept and skipped.</source>
        <translation>이 실행의 모델, 폴더, 설정으로 다시 시작합니다. 출력 폴더에 이미 있는 결과는 그대로 두고 건너뜁니다.</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>새로 고침</translation>
    </message>
    <message>
        <source>Batch</source>
        <translation>일괄 처리</translation>
    </message>
    <message>
        <source>Fine-tune</source>
        <translation>미세 조정</translation>
    </message>
    <message>
        <source>Saved picture</source>
        <translation>저장한 그림</translation>
    </message>
    <message>
        <source>running</source>
        <translation>실행 중</translation>
    </message>
    <message>
        <source>done</source>
        <translation>완료</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>취소됨</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>실패</translation>
    </message>
    <message>
        <source>%1 steps</source>
        <translation>%1단계</translation>
    </message>
    <message>
        <source>strength %1 %</source>
        <translation>강도 %1 %</translation>
    </message>
    <message>
        <source>Cannot open %1: it may have been moved or deleted.</source>
        <translation>%1을(를) 열 수 없습니다. 옮겨졌거나 지워졌을 수 있습니다.</translation>
    </message>
    <message>
        <source>Started again: %1 of %2.</source>
        <translation>다시 시작함: %2의 %1.</translation>
    </message>
</context>
<context>
    <name>HistoryRecorder</name>
    <message>
        <source>History: %1</source>
        <translation>기록: %1</translation>
    </message>
    <message>
        <source>cancelled after %1 of %2 images</source>
        <translation>%2장 중 %1장 처리 후 취소됨</translation>
    </message>
    <message>
        <source>%1 steps</source>
        <translation>%1단계</translation>
    </message>
    <message>
        <source>A saved picture is not a job to run again; drop it on the window to restore its settings.</source>
        <translation>저장한 그림은 다시 실행할 작업이 아닙니다. 그림을 창에 끌어다 놓으면 설정을 되살립니다.</translation>
    </message>
    <message>
        <source>There is no Batch tab to run it in.</source>
        <translation>실행할 일괄 처리 탭이 없습니다.</translation>
    </message>
    <message>
        <source>This entry&apos;s settings cannot be used: %1</source>
        <translation>이 기록의 설정을 쓸 수 없습니다: %1</translation>
    </message>
    <message>
        <source>The model %1 (sha256 %2) is no longer in your model folders; import it again, then run the entry again.</source>
        <translation>%1 모델(sha256 %2)이 더 이상 모델 폴더에 없습니다. 모델을 다시 가져온 뒤 이 기록을 다시 실행하세요.</translation>
    </message>
    <message>
        <source>The input folder %1 no longer exists.</source>
        <translation>입력 폴더 %1이(가) 더 이상 없습니다.</translation>
    </message>
    <message>
        <source>There is no Fine-tune tab to run it in.</source>
        <translation>실행할 미세 조정 탭이 없습니다.</translation>
    </message>
    <message>
        <source>The dataset folder of this run (%1) no longer exists.</source>
        <translation>이 실행의 데이터셋 폴더(%1)가 더 이상 없습니다.</translation>
    </message>
    <message>
        <source>This run&apos;s settings cannot be used: %1</source>
        <translation>이 실행의 설정을 쓸 수 없습니다: %1</translation>
    </message>
    <message>
        <source>%1 was made with the model %2 (%3, sha256 %4), which is not in your model folders: its settings were restored, the model was not. Import the model (File &gt; Import model…) and drop the image again.</source>
        <translation>%1은(는) %2 모델(%3, sha256 %4)로 만든 이미지인데, 이 모델이 모델 폴더에 없습니다. 설정은 되살렸지만 모델은 되살리지 못했습니다. 모델을 가져온 뒤(파일 &gt; 모델 가져오기…) 이미지를 다시 끌어다 놓으세요.</translation>
    </message>
    <message>
        <source>%1: restored its settings and the model %2; that file has changed since the image was made, so the result may differ.</source>
        <translation>%1: 설정과 %2 모델을 되살렸습니다. 이미지를 만든 뒤 모델 파일이 바뀌어서 결과가 다를 수 있습니다.</translation>
    </message>
    <message>
        <source>%1: restored the model %2 and its settings.</source>
        <translation>%1: %2 모델과 설정을 되살렸습니다.</translation>
    </message>
</context>
<context>
    <name>ImageView</name>
    <message>
        <source>no image</source>
        <translation>이미지 없음</translation>
    </message>
</context>
<context>
    <name>JobStatus</name>
    <message>
        <source>%1/%2 · %3 %4/s · ETA %5</source>
        <translation>%1/%2 · 초당 %3%4 · 남은 시간 %5</translation>
    </message>
    <message>
        <source> · %1 % of %2</source>
        <translation> · %2 %1% 완료</translation>
    </message>
    <message>
        <source>%1: %2</source>
        <translation>%1: %2</translation>
    </message>
    <message>
        <source>%1: cancelled; finished outputs are kept</source>
        <translation>%1: 취소됨. 완성된 결과는 남아 있습니다</translation>
    </message>
</context>
<context>
    <name>Jobs</name>
    <message>
        <source>unexpected error: %1: %2 (details in the log)</source>
        <translation>예기치 않은 오류: %1: %2 (자세한 내용은 로그에)</translation>
    </message>
</context>
<context>
    <name>LibraryPanel</name>
    <message>
        <source>(none)</source>
        <translation>(없음)</translation>
    </message>
    <message>
        <source>Translate each image with a second model too, to compare the two outputs</source>
        <translation>각 이미지를 두 번째 모델로도 변환해 두 결과를 비교합니다</translation>
    </message>
    <message>
        <source>No folder open</source>
        <translation>열린 폴더 없음</translation>
    </message>
    <message>
        <source>Open folder…</source>
        <translation>폴더 열기…</translation>
    </message>
    <message>
        <source>Targets: none found</source>
        <translation>정답 이미지: 찾지 못함</translation>
    </message>
    <message>
        <source>Target images (ground truth) with the same file names: the readouts compare against them</source>
        <translation>파일 이름이 같은 정답 이미지: 수치는 이 이미지와 비교한 값입니다</translation>
    </message>
    <message>
        <source>Targets…</source>
        <translation>정답 이미지…</translation>
    </message>
    <message>
        <source>Choose the folder of target images (same file names as the inputs)</source>
        <translation>정답 이미지 폴더를 고르세요 (입력과 파일 이름이 같아야 합니다)</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>모델</translation>
    </message>
    <message>
        <source>Compare with</source>
        <translation>비교할 모델</translation>
    </message>
    <message>
        <source>Images</source>
        <translation>이미지</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>설정</translation>
    </message>
    <message>
        <source>Open a folder of images</source>
        <translation>이미지 폴더 열기</translation>
    </message>
    <message>
        <source>Folder of target images</source>
        <translation>정답 이미지 폴더</translation>
    </message>
    <message>
        <source>Targets: none</source>
        <translation>정답 이미지: 없음</translation>
    </message>
    <message>
        <source>Targets: %1 (found)</source>
        <translation>정답 이미지: %1 (자동으로 찾음)</translation>
    </message>
    <message>
        <source>Targets: %1</source>
        <translation>정답 이미지: %1</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>History</source>
        <translation>기록</translation>
    </message>
    <message>
        <source>Image Translator</source>
        <translation>이미지 변환기</translation>
    </message>
    <message>
        <source>Preview</source>
        <translation>미리보기</translation>
    </message>
    <message>
        <source>Sketch</source>
        <translation>스케치</translation>
    </message>
    <message>
        <source>Batch</source>
        <translation>일괄 처리</translation>
    </message>
    <message>
        <source>Fine-tune</source>
        <translation>미세 조정</translation>
    </message>
    <message>
        <source>Log</source>
        <translation>로그</translation>
    </message>
    <message>
        <source>images</source>
        <translation>장</translation>
    </message>
    <message>
        <source>steps</source>
        <translation>단계</translation>
    </message>
    <message>
        <source>Make pairs</source>
        <translation>학습 쌍 만들기</translation>
    </message>
    <message>
        <source>photos</source>
        <translation>장</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>파일(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>보기(&amp;V)</translation>
    </message>
    <message>
        <source>Open folder…</source>
        <translation>폴더 열기…</translation>
    </message>
    <message>
        <source>Import model…</source>
        <translation>모델 가져오기…</translation>
    </message>
    <message>
        <source>Get models…</source>
        <translation>모델 받기…</translation>
    </message>
    <message>
        <source>Run batch</source>
        <translation>일괄 처리 실행</translation>
    </message>
    <message>
        <source>Save output…</source>
        <translation>결과 저장…</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>끝내기</translation>
    </message>
    <message>
        <source>Next image</source>
        <translation>다음 이미지</translation>
    </message>
    <message>
        <source>Previous image</source>
        <translation>이전 이미지</translation>
    </message>
    <message>
        <source>Fit</source>
        <translation>화면에 맞추기</translation>
    </message>
    <message>
        <source>Actual size (100%)</source>
        <translation>실제 크기 (100%)</translation>
    </message>
    <message>
        <source>Zoom in</source>
        <translation>확대</translation>
    </message>
    <message>
        <source>Zoom out</source>
        <translation>축소</translation>
    </message>
    <message>
        <source>Side bar</source>
        <translation>사이드바</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>언어</translation>
    </message>
    <message>
        <source>System</source>
        <translation>시스템 설정</translation>
    </message>
    <message>
        <source>The new language applies the next time you start Image Translator.</source>
        <translation>새 언어는 이미지 변환기를 다음에 시작할 때 적용됩니다.</translation>
    </message>
    <message>
        <source>%1: cannot save the trained model (%2)</source>
        <translation>%1: 학습한 모델을 저장할 수 없습니다 (%2)</translation>
    </message>
    <message>
        <source>Nothing to save yet: open an image and wait for its full-size result.</source>
        <translation>아직 저장할 것이 없습니다. 이미지를 열고 원래 크기 결과가 나올 때까지 기다리세요.</translation>
    </message>
    <message>
        <source>Save output</source>
        <translation>결과 저장</translation>
    </message>
    <message>
        <source>Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff)</source>
        <translation>이미지 (*.png *.jpg *.jpeg *.webp *.tif *.tiff)</translation>
    </message>
    <message>
        <source>%1 is the input image: choose another name (inputs are never overwritten).</source>
        <translation>%1은(는) 입력 이미지입니다. 다른 이름을 고르세요 (입력은 덮어쓰지 않습니다).</translation>
    </message>
    <message>
        <source>%1: cannot save the output (%2)</source>
        <translation>%1: 결과를 저장할 수 없습니다 (%2)</translation>
    </message>
    <message>
        <source>Saved %1</source>
        <translation>%1 저장됨</translation>
    </message>
</context>
<context>
    <name>ModelPicker</name>
    <message>
        <source>trained at %1×%2</source>
        <translation>학습 크기 %1×%2</translation>
    </message>
    <message>
        <source>discriminator: yes (adversarial verdict available)</source>
        <translation>판별자: 있음 (판별자 평가 가능)</translation>
    </message>
    <message>
        <source>discriminator: none (no adversarial verdict)</source>
        <translation>판별자: 없음 (판별자 평가 불가)</translation>
    </message>
    <message>
        <source>trained %1 steps</source>
        <translation>%1단계 학습함</translation>
    </message>
    <message>
        <source>Import…</source>
        <translation>가져오기…</translation>
    </message>
    <message>
        <source>Import a reference checkpoint (*_net_G.pth) safely</source>
        <translation>참조 체크포인트(*_net_G.pth)를 안전하게 가져옵니다</translation>
    </message>
    <message>
        <source>No models found. Use Import… to bring in a reference checkpoint.</source>
        <translation>모델이 없습니다. 가져오기…로 참조 체크포인트를 가져오세요.</translation>
    </message>
    <message>
        <source>Import reference checkpoint(s): the generator(s)</source>
        <translation>참조 체크포인트 가져오기: 생성자 파일</translation>
    </message>
    <message>
        <source>Choose the generator file(s) (*_net_G*.pth); the discriminators are optional.</source>
        <translation>생성자 파일(*_net_G*.pth)을 고르세요. 판별자는 없어도 됩니다.</translation>
    </message>
    <message>
        <source>Model kind</source>
        <translation>모델 종류</translation>
    </message>
    <message>
        <source>What kind of model is it?</source>
        <translation>어떤 종류의 모델인가요?</translation>
    </message>
    <message>
        <source>Discriminator(s) (optional, needed for the realness readout and fine-tuning)</source>
        <translation>판별자 파일 (선택: 진짜다움 수치와 미세 조정에 필요)</translation>
    </message>
    <message>
        <source>Model name</source>
        <translation>모델 이름</translation>
    </message>
    <message>
        <source>Name:</source>
        <translation>이름:</translation>
    </message>
    <message>
        <source>Replace model?</source>
        <translation>모델을 바꿀까요?</translation>
    </message>
    <message>
        <source>A model named “%1” already exists (%2).

Replace it?</source>
        <translation>“%1” 모델이 이미 있습니다 (%2).

바꿀까요?</translation>
    </message>
    <message>
        <source>PyTorch checkpoints (*.pth *.pt)</source>
        <translation>파이토치 체크포인트 (*.pth *.pt)</translation>
    </message>
</context>
<context>
    <name>OptionsPanel</name>
    <message>
        <source>auto: split an image into tiles only when it would not fit in memory; off: never; a size: tiles of that many pixels (seams are blended away)</source>
        <translation>자동: 메모리에 들어가지 않을 때만 이미지를 타일로 나눔. 끔: 나누지 않음. 크기: 그 픽셀 크기의 타일로 나눔 (이음매는 자연스럽게 섞음)</translation>
    </message>
    <message>
        <source>For tiled images on models that normalise by the image&apos;s own statistics: exact measures them over the whole image (slower); fast uses a downscaled copy (a slightly different look)</source>
        <translation>이미지 자체의 통계로 정규화하는 모델에서 타일로 나눌 때: 정확은 이미지 전체에서 통계를 잼 (느림). 빠름은 축소본에서 잼 (느낌이 조금 다를 수 있음)</translation>
    </message>
    <message>
        <source>Where the model runs: auto picks a GPU (CUDA, then Apple MPS) when there is one, else the CPU</source>
        <translation>모델을 실행할 장치: 자동은 GPU가 있으면 GPU(CUDA, 다음은 MPS)를, 없으면 CPU를 씁니다</translation>
    </message>
    <message>
        <source>reference mode draws dropout at random: the same seed gives the same picture</source>
        <translation>참조 모드는 드롭아웃을 무작위로 정합니다. 시드가 같으면 같은 그림이 나옵니다</translation>
    </message>
    <message>
        <source>Strength</source>
        <translation>강도</translation>
    </message>
    <message>
        <source>Device</source>
        <translation>장치</translation>
    </message>
    <message>
        <source>Precision</source>
        <translation>정밀도</translation>
    </message>
    <message>
        <source>Mode</source>
        <translation>모드</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>시드</translation>
    </message>
    <message>
        <source>Tiles</source>
        <translation>타일</translation>
    </message>
    <message>
        <source>Tile statistics</source>
        <translation>타일 통계</translation>
    </message>
    <message>
        <source>Advanced</source>
        <translation>고급</translation>
    </message>
</context>
<context>
    <name>PairsOffer</name>
    <message>
        <source>line art — learn sketch → photo</source>
        <translation>선화 — 스케치 → 사진 학습</translation>
    </message>
    <message>
        <source>edges — learn edge map → photo</source>
        <translation>윤곽선 — 윤곽선 → 사진 학습</translation>
    </message>
    <message>
        <source>gray — learn to colourise</source>
        <translation>흑백 — 채색 학습</translation>
    </message>
    <message>
        <source>blur — learn to sharpen</source>
        <translation>흐림 — 선명하게 하기 학습</translation>
    </message>
    <message>
        <source>downscale — learn to upscale</source>
        <translation>축소 — 업스케일 학습</translation>
    </message>
    <message>
        <source>Make training pairs from these photos</source>
        <translation>이 사진들로 학습 쌍 만들기</translation>
    </message>
    <message>
        <source>side of the square pairs; the starting model&apos;s training size unless you change it</source>
        <translation>정사각형 학습 쌍의 한 변 길이. 바꾸지 않으면 시작 모델의 학습 크기</translation>
    </message>
    <message>
        <source>how many different pairs (crops, line widths) to make from each photo</source>
        <translation>사진 한 장에서 만들 서로 다른 쌍의 수 (자르기, 선 굵기)</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>찾아보기…</translation>
    </message>
    <message>
        <source>overwrite</source>
        <translation>덮어쓰기</translation>
    </message>
    <message>
        <source>make every pair again, replacing those already in the folder
(unticked: pairs already made are kept and the rest are added)</source>
        <translation>모든 쌍을 다시 만들어 폴더에 있던 것을 바꿉니다
(끄면: 이미 만든 쌍은 두고 나머지만 추가)</translation>
    </message>
    <message>
        <source>Make pairs</source>
        <translation>학습 쌍 만들기</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>취소</translation>
    </message>
    <message>
        <source>Photos that failed:</source>
        <translation>실패한 사진:</translation>
    </message>
    <message>
        <source>photos no pair could be made from, and why</source>
        <translation>쌍을 만들지 못한 사진과 그 이유</translation>
    </message>
    <message>
        <source>variants per photo</source>
        <translation>사진당 변형 수</translation>
    </message>
    <message>
        <source>Pairs</source>
        <translation>쌍 종류</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>크기</translation>
    </message>
    <message>
        <source>Into</source>
        <translation>저장 위치</translation>
    </message>
    <message>
        <source>making a few pairs to show…</source>
        <translation>보여 줄 쌍을 몇 개 만드는 중…</translation>
    </message>
    <message>
        <source>making %1 pairs in %2…</source>
        <translation>%2에 %1 쌍을 만드는 중…</translation>
    </message>
    <message>
        <source>photos</source>
        <translation>장</translation>
    </message>
    <message>
        <source>made 1 pair in %2</source>
        <translation>%2에 1쌍을 만들었습니다</translation>
    </message>
    <message>
        <source>made %1 pairs in %2</source>
        <translation>%2에 %1쌍을 만들었습니다</translation>
    </message>
    <message>
        <source>, kept 1 pair already made</source>
        <translation>, 이미 만든 1쌍은 그대로 둠</translation>
    </message>
    <message>
        <source>, kept %1 pairs already made</source>
        <translation>, 이미 만든 %1쌍은 그대로 둠</translation>
    </message>
    <message>
        <source>; 1 photo failed (listed below)</source>
        <translation>. 사진 1장 실패 (아래 목록)</translation>
    </message>
    <message>
        <source>; %1 photos failed (listed below)</source>
        <translation>. 사진 %1장 실패 (아래 목록)</translation>
    </message>
    <message>
        <source>cancelled: the pairs made so far are kept whole; Make pairs again continues</source>
        <translation>취소됨: 지금까지 만든 쌍은 온전히 남아 있습니다. 학습 쌍 만들기를 다시 누르면 이어서 만듭니다</translation>
    </message>
    <message>
        <source>Folder for the pairs</source>
        <translation>학습 쌍을 둘 폴더</translation>
    </message>
</context>
<context>
    <name>PairsPreview</name>
    <message>
        <source>pairs made from your photos, each: made input | photo</source>
        <translation>사진으로 만든 학습 쌍: 만든 입력 | 사진</translation>
    </message>
    <message>
        <source>no pair could be made from these photos</source>
        <translation>이 사진들로는 쌍을 만들 수 없습니다</translation>
    </message>
</context>
<context>
    <name>PreviewPanel</name>
    <message>
        <source>input</source>
        <translation>입력</translation>
    </message>
    <message>
        <source>Open a folder and pick an image</source>
        <translation>폴더를 열고 이미지를 고르세요</translation>
    </message>
    <message>
        <source>output</source>
        <translation>출력</translation>
    </message>
    <message>
        <source>Pick a model</source>
        <translation>모델을 고르세요</translation>
    </message>
    <message>
        <source>compared model</source>
        <translation>비교 모델</translation>
    </message>
    <message>
        <source>target</source>
        <translation>정답</translation>
    </message>
    <message>
        <source>Side by side</source>
        <translation>나란히 보기</translation>
    </message>
    <message>
        <source>Before / after</source>
        <translation>전 / 후</translation>
    </message>
    <message>
        <source>Pick a model and open a folder of images.</source>
        <translation>모델을 고르고 이미지 폴더를 여세요.</translation>
    </message>
    <message>
        <source> · %1 %</source>
        <translation> · %1%</translation>
    </message>
    <message>
        <source>output · %1</source>
        <translation>출력 · %1</translation>
    </message>
    <message>
        <source>Translating %1…</source>
        <translation>%1 변환 중…</translation>
    </message>
    <message>
        <source>%1: quick look at %2×%3; full resolution coming…</source>
        <translation>%1: %2×%3 빠른 미리보기. 원본 해상도 결과를 만드는 중…</translation>
    </message>
    <message>
        <source>cannot show this image</source>
        <translation>이 이미지를 보여 줄 수 없습니다</translation>
    </message>
</context>
<context>
    <name>Readouts</name>
    <message>
        <source>no target image</source>
        <translation>정답 이미지 없음</translation>
    </message>
    <message>
        <source>PSNR (peak signal-to-noise ratio) of the output against the target, in dB.
Higher is closer: about 20 dB differs visibly, above 30–35 dB the difference is hard to see.</source>
        <translation>정답 대비 출력의 PSNR(최대 신호 대 잡음비), 단위 dB.
높을수록 가깝습니다. 20 dB 정도면 차이가 눈에 띄고, 30–35 dB 이상이면 차이를 알아보기 어렵습니다.</translation>
    </message>
    <message>
        <source>SSIM (structural similarity) of the output and the target, from 0 to 1.
1 means the same structure (edges, texture, local contrast); above 0.9 is close.</source>
        <translation>출력과 정답의 SSIM(구조적 유사도), 0부터 1까지.
1은 구조(윤곽, 질감, 국소 대비)가 같다는 뜻이며 0.9 이상이면 가깝습니다.</translation>
    </message>
    <message>
        <source>The model&apos;s own discriminator (its PatchGAN, “D”) judging the output: the mean realness of its patches, from 0 (looks fake) to 1 (looks real).
In brackets, its verdict on the target for comparison: if it finds the real target fake too, its score says little.</source>
        <translation>모델 자체의 판별자(PatchGAN)가 출력을 평가한 값: 패치별 진짜다움의 평균, 0(가짜 같음)부터 1(진짜 같음)까지.
괄호 안은 비교용으로 정답 이미지를 평가한 값입니다. 진짜인 정답도 가짜로 본다면 이 점수는 별 의미가 없습니다.</translation>
    </message>
    <message>
        <source>The model&apos;s own discriminator (its PatchGAN, “D”) judging the output: the mean score of its patches. It was trained with the %1 loss, so the score has no fixed range; higher looks more real.
In brackets, its score for the target, for comparison.</source>
        <translation>모델 자체의 판별자(PatchGAN)가 출력을 평가한 값: 패치별 점수의 평균. %1 손실로 학습해서 점수 범위가 정해져 있지 않으며, 높을수록 진짜 같습니다.
괄호 안은 비교용으로 정답 이미지의 점수입니다.</translation>
    </message>
    <message>
        <source>Lay the discriminator&apos;s patch map over the output: where it finds the picture convincing (yellow) and where not (purple). Each value judges a patch around it (70 px wide for the usual PatchGAN).</source>
        <translation>판별자의 패치 지도를 출력 위에 겹쳐 보여 줍니다. 그림이 그럴듯한 곳은 노랑, 아닌 곳은 보라입니다. 각 값은 주변 패치(보통의 PatchGAN에서는 너비 70 px)를 평가한 것입니다.</translation>
    </message>
    <message>
        <source>How real it looks</source>
        <translation>진짜다움</translation>
    </message>
    <message>
        <source>Show heat-map</source>
        <translation>히트맵 보기</translation>
    </message>
    <message>
        <source>Match to target</source>
        <translation>정답과 일치도</translation>
    </message>
    <message>
        <source>Structure match</source>
        <translation>구조 일치도</translation>
    </message>
    <message>
        <source>match to target %1, structure %2</source>
        <translation>정답과 일치도 %1, 구조 %2</translation>
    </message>
    <message>
        <source>no verdict</source>
        <translation>평가 없음</translation>
    </message>
    <message>
        <source>%1 (target %2)</source>
        <translation>%1 (정답 %2)</translation>
    </message>
    <message>
        <source>%1 dB</source>
        <translation>%1 dB</translation>
    </message>
    <message>
        <source>identical</source>
        <translation>완전히 같음</translation>
    </message>
</context>
<context>
    <name>RealismReadout</name>
    <message>
        <source>KID and FID compare the translated pictures with the target folder as a whole: lower is closer. KID is the one to read on small folders.</source>
        <translation>KID와 FID는 변환된 그림 전체를 목표 폴더와 비교합니다. 낮을수록 가깝습니다. 폴더가 작을 때는 KID를 보세요.</translation>
    </message>
    <message>
        <source>Stop measuring</source>
        <translation>측정 중지</translation>
    </message>
    <message>
        <source>KID/FID against %1: %2</source>
        <translation>%1 기준 KID/FID: %2</translation>
    </message>
    <message>
        <source>Measuring KID/FID against %1…</source>
        <translation>%1 기준으로 KID/FID 측정 중…</translation>
    </message>
    <message>
        <source>Measuring KID/FID against %1… %2 %</source>
        <translation>%1 기준으로 KID/FID 측정 중… %2 %</translation>
    </message>
    <message>
        <source>KID %1 · FID %2, %3 translated against %4 targets (lower is closer)</source>
        <translation>KID %1 · FID %2, 변환 %3장 대 목표 %4장 (낮을수록 가까움)</translation>
    </message>
    <message>
        <source>KID at or below 0: as close to the targets as this many pictures can tell.</source>
        <translation>KID가 0 이하: 이 정도 장수로 알 수 있는 한 목표와 구별되지 않습니다.</translation>
    </message>
    <message>
        <source>FID needs at least %1 images per folder to mean much; read KID here.</source>
        <translation>FID는 폴더마다 %1장 이상이어야 의미가 있습니다. 여기서는 KID를 보세요.</translation>
    </message>
    <message>
        <source>left out: %1</source>
        <translation>제외됨: %1</translation>
    </message>
    <message>
        <source>KID/FID could not be measured: %1</source>
        <translation>KID/FID를 측정하지 못했습니다: %1</translation>
    </message>
    <message>
        <source>KID/FID: stopped</source>
        <translation>KID/FID: 중지됨</translation>
    </message>
</context>
<context>
    <name>SketchPanel</name>
    <message>
        <source>Images (%1)</source>
        <translation>이미지 (%1)</translation>
    </message>
    <message>
        <source>result</source>
        <translation>결과</translation>
    </message>
    <message>
        <source>Draw on the left</source>
        <translation>왼쪽에 그려 보세요</translation>
    </message>
    <message>
        <source>compared model</source>
        <translation>비교 모델</translation>
    </message>
    <message>
        <source>Pen</source>
        <translation>펜</translation>
    </message>
    <message>
        <source>Eraser</source>
        <translation>지우개</translation>
    </message>
    <message>
        <source>Eraser: paints the paper colour</source>
        <translation>지우개: 종이 색으로 칠합니다</translation>
    </message>
    <message>
        <source>Line width, in pixels at the model&apos;s training size (scaled with the canvas)</source>
        <translation>선 굵기, 모델 학습 크기 기준 픽셀 (캔버스 크기에 맞춰 조정)</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>실행 취소</translation>
    </message>
    <message>
        <source>Redo</source>
        <translation>다시 실행</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>지우기</translation>
    </message>
    <message>
        <source>Start again on blank paper (undoable)</source>
        <translation>빈 종이로 다시 시작 (실행 취소 가능)</translation>
    </message>
    <message>
        <source>Canvas size in pixels: the model&apos;s training size, or larger</source>
        <translation>캔버스 크기(픽셀): 모델의 학습 크기 또는 그보다 크게</translation>
    </message>
    <message>
        <source>Open sketch…</source>
        <translation>스케치 열기…</translation>
    </message>
    <message>
        <source>Start from a scanned or saved sketch</source>
        <translation>스캔하거나 저장한 스케치에서 시작합니다</translation>
    </message>
    <message>
        <source>Trace over…</source>
        <translation>따라 그리기…</translation>
    </message>
    <message>
        <source>Show a photo under the drawing, to trace (the model does not see it)</source>
        <translation>그림 아래에 사진을 깔아 따라 그립니다 (모델에는 보이지 않음)</translation>
    </message>
    <message>
        <source>How strongly the traced photo shows</source>
        <translation>밑그림 사진의 진하기</translation>
    </message>
    <message>
        <source>No photo</source>
        <translation>사진 빼기</translation>
    </message>
    <message>
        <source>Remove the photo traced over</source>
        <translation>따라 그리던 사진을 뺍니다</translation>
    </message>
    <message>
        <source>Save…</source>
        <translation>저장…</translation>
    </message>
    <message>
        <source>Save the sketch and its result as PNG</source>
        <translation>스케치와 결과를 PNG로 저장합니다</translation>
    </message>
    <message>
        <source>Add to dataset</source>
        <translation>데이터셋에 추가</translation>
    </message>
    <message>
        <source>Add the sketch (A/) and the traced photo or the result (B/) to a dataset folder</source>
        <translation>스케치(A/)와 밑그림 사진 또는 결과(B/)를 데이터셋 폴더에 추가합니다</translation>
    </message>
    <message>
        <source>Choose dataset folder…</source>
        <translation>데이터셋 폴더 고르기…</translation>
    </message>
    <message>
        <source>Switched to %1, a model that takes sketches.</source>
        <translation>스케치를 입력으로 받는 %1 모델로 바꿨습니다.</translation>
    </message>
    <message>
        <source>Its inputs: %1</source>
        <translation>입력 형태: %1</translation>
    </message>
    <message>
        <source> · %1 %</source>
        <translation> · %1%</translation>
    </message>
    <message>
        <source>result · %1</source>
        <translation>결과 · %1</translation>
    </message>
    <message>
        <source>compared · %1</source>
        <translation>비교 · %1</translation>
    </message>
    <message>
        <source>Pick a model</source>
        <translation>모델을 고르세요</translation>
    </message>
    <message>
        <source>No result</source>
        <translation>결과 없음</translation>
    </message>
    <message>
        <source>Open a sketch</source>
        <translation>스케치 열기</translation>
    </message>
    <message>
        <source>A photo to trace over</source>
        <translation>따라 그릴 사진</translation>
    </message>
    <message>
        <source>Save the sketch and its result</source>
        <translation>스케치와 결과 저장</translation>
    </message>
    <message>
        <source>PNG images (*.png)</source>
        <translation>PNG 이미지 (*.png)</translation>
    </message>
    <message>
        <source>The result is not ready yet; save again once it shows.</source>
        <translation>결과가 아직 준비되지 않았습니다. 결과가 보이면 다시 저장하세요.</translation>
    </message>
    <message>
        <source>Replace files?</source>
        <translation>파일을 바꿀까요?</translation>
    </message>
    <message>
        <source>%1 already exists in %3.

Replace?</source>
        <translation>%3에 %1 파일이 이미 있습니다.

바꿀까요?</translation>
    </message>
    <message>
        <source>%1 and %2 already exist in %3.

Replace?</source>
        <translation>%3에 %1, %2 파일이 이미 있습니다.

바꿀까요?</translation>
    </message>
    <message>
        <source>Saved %1 and %2 in %3</source>
        <translation>%3에 %1, %2 파일을 저장했습니다</translation>
    </message>
    <message>
        <source>Dataset folder (pairs go into its A/ and B/)</source>
        <translation>데이터셋 폴더 (쌍은 그 안의 A/와 B/에 들어갑니다)</translation>
    </message>
    <message>
        <source>The result is not ready yet; add the pair once it shows.</source>
        <translation>결과가 아직 준비되지 않았습니다. 결과가 보이면 쌍을 추가하세요.</translation>
    </message>
    <message>
        <source>Added %1.png to %2 (A: the sketch, B: the photo)</source>
        <translation>%2에 %1.png를 추가했습니다 (A: 스케치, B: 사진)</translation>
    </message>
    <message>
        <source>Added %1.png to %2 (A: the sketch, B: the result)</source>
        <translation>%2에 %1.png를 추가했습니다 (A: 스케치, B: 결과)</translation>
    </message>
</context>
<context>
    <name>Startup</name>
    <message>
        <source>Image Translator</source>
        <translation>이미지 변환기</translation>
    </message>
    <message>
        <source>Starting the engine…</source>
        <translation>엔진을 시작하는 중…</translation>
    </message>
    <message>
        <source>The engine could not be loaded:
%1

See the terminal for details.</source>
        <translation>엔진을 불러올 수 없습니다:
%1

자세한 내용은 터미널을 보세요.</translation>
    </message>
</context>
<context>
    <name>StrengthSlider</name>
    <message>
        <source>Strength</source>
        <translation>강도</translation>
    </message>
    <message>
        <source>How much of the translation to keep: 100 % is the model&apos;s picture, 0 % your input; in between they are mixed as light mixes. Moving it does not run the model again.</source>
        <translation>변환 결과를 얼마나 남길지: 100%는 모델의 그림, 0%는 입력 그대로이고, 그 사이는 빛이 섞이듯 섞습니다. 움직여도 모델을 다시 실행하지 않습니다.</translation>
    </message>
    <message>
        <source>%1 %</source>
        <translation>%1%</translation>
    </message>
</context>
<context>
    <name>TrainMonitor</name>
    <message>
        <source>losses</source>
        <translation>손실</translation>
    </message>
    <message>
        <source>step</source>
        <translation>단계</translation>
    </message>
    <message>
        <source>D accuracy</source>
        <translation>판별자 정확도</translation>
    </message>
    <message>
        <source>validation PSNR (dB)</source>
        <translation>검증 PSNR (dB)</translation>
    </message>
    <message>
        <source>validation SSIM</source>
        <translation>검증 SSIM</translation>
    </message>
    <message>
        <source>held-out KID (lower is better)</source>
        <translation>검증용 KID (낮을수록 좋음)</translation>
    </message>
    <message>
        <source>sample translations of validation images appear here</source>
        <translation>검증 이미지의 변환 예시가 여기에 나타납니다</translation>
    </message>
    <message>
        <source>rows: validation images; columns: input, output, target</source>
        <translation>행: 검증 이미지, 열: 입력, 출력, 정답</translation>
    </message>
    <message>
        <source>real</source>
        <translation>진짜</translation>
    </message>
    <message>
        <source>fake</source>
        <translation>가짜</translation>
    </message>
</context>
<context>
    <name>TrainPanel</name>
    <message>
        <source>dataset folder (A/ + B/, trainA/ + trainB/, AB images) or a folder of photos</source>
        <translation>데이터셋 폴더 (A/ + B/, trainA/ + trainB/, AB 이미지) 또는 사진 폴더</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>찾아보기…</translation>
    </message>
    <message>
        <source>no model selected</source>
        <translation>선택한 모델 없음</translation>
    </message>
    <message>
        <source>start from the selected model</source>
        <translation>선택한 모델에서 시작</translation>
    </message>
    <message>
        <source>default — tuned for short runs on small folders</source>
        <translation>기본 — 작은 폴더로 짧게 학습하도록 맞춤</translation>
    </message>
    <message>
        <source>classic — the reference implementation&apos;s settings</source>
        <translation>클래식 — 참조 구현의 설정</translation>
    </message>
    <message>
        <source>The settings a run starts from; the fields below show them and may be changed.
Architecture and loss choices come from the recipe (see README, Fine-tuning).</source>
        <translation>학습을 시작할 설정입니다. 아래 칸에 그 값이 나타나며 바꿀 수 있습니다.
구조와 손실 선택은 레시피를 따릅니다 (README의 미세 조정 참고).</translation>
    </message>
    <message>
        <source>EMA of the generator&apos;s weights</source>
        <translation>생성자 가중치의 EMA</translation>
    </message>
    <message>
        <source>adaptive augmentation (small datasets)</source>
        <translation>적응형 증강 (작은 데이터셋용)</translation>
    </message>
    <message>
        <source>optional: held-out images the run does not train on</source>
        <translation>선택: 학습에 쓰지 않는 검증용 이미지</translation>
    </message>
    <message>
        <source>Every so many steps the model translates these images and their KID against the folder&apos;s targets is drawn beside PSNR and SSIM; the model with the lowest KID is kept as best-kid.safetensors.</source>
        <translation>정해진 단계마다 모델이 이 이미지들을 변환하고, 폴더의 목표 이미지와 비교한 KID를 PSNR, SSIM 옆에 그립니다. KID가 가장 낮은 모델은 best-kid.safetensors로 보관됩니다.</translation>
    </message>
    <message>
        <source>KID needs the feature network (see tooltip)</source>
        <translation>KID에는 특징 추출 네트워크가 필요합니다 (도움말 참고)</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>시작</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>일시 정지</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>취소</translation>
    </message>
    <message>
        <source>Resume a run…</source>
        <translation>학습 이어 하기…</translation>
    </message>
    <message>
        <source>Dataset</source>
        <translation>데이터셋</translation>
    </message>
    <message>
        <source>Starting model</source>
        <translation>시작 모델</translation>
    </message>
    <message>
        <source>Kind (from scratch)</source>
        <translation>종류 (처음부터 학습)</translation>
    </message>
    <message>
        <source>Recipe</source>
        <translation>레시피</translation>
    </message>
    <message>
        <source>Steps</source>
        <translation>단계 수</translation>
    </message>
    <message>
        <source>Run name</source>
        <translation>학습 이름</translation>
    </message>
    <message>
        <source>Learning rate</source>
        <translation>학습률</translation>
    </message>
    <message>
        <source>λ cycle</source>
        <translation>λ 순환</translation>
    </message>
    <message>
        <source>Crop size</source>
        <translation>자르기 크기</translation>
    </message>
    <message>
        <source>Batch size</source>
        <translation>배치 크기</translation>
    </message>
    <message>
        <source>KID held-out folder</source>
        <translation>KID 검증 폴더</translation>
    </message>
    <message>
        <source>KID every (steps)</source>
        <translation>KID 측정 간격 (단계)</translation>
    </message>
    <message>
        <source>Advanced (from the recipe)</source>
        <translation>고급 (레시피 값)</translation>
    </message>
    <message>
        <source>choose a dataset folder first</source>
        <translation>먼저 데이터셋 폴더를 고르세요</translation>
    </message>
    <message>
        <source>%1 is not a usable run name: use a plain folder name</source>
        <translation>%1은(는) 학습 이름으로 쓸 수 없습니다. 평범한 폴더 이름을 쓰세요</translation>
    </message>
    <message>
        <source>scanning…</source>
        <translation>살펴보는 중…</translation>
    </message>
    <message>
        <source>%1: cannot resume: %2</source>
        <translation>%1: 이어 할 수 없습니다: %2</translation>
    </message>
    <message>
        <source>pausing: saving a checkpoint…</source>
        <translation>일시 정지 중: 체크포인트 저장 중…</translation>
    </message>
    <message>
        <source>paused run dropped; its folder is kept</source>
        <translation>일시 정지한 학습을 버렸습니다. 폴더는 남아 있습니다</translation>
    </message>
    <message>
        <source>resuming…</source>
        <translation>이어 하는 중…</translation>
    </message>
    <message>
        <source>starting…</source>
        <translation>시작하는 중…</translation>
    </message>
    <message>
        <source>D warm-up: step %1/%2 · %3 steps/s · ETA %4</source>
        <translation>판별자 예열: %1/%2단계 · 초당 %3단계 · 남은 시간 %4</translation>
    </message>
    <message>
        <source>training: step %1/%2 · %3 steps/s · ETA %4</source>
        <translation>학습 중: %1/%2단계 · 초당 %3단계 · 남은 시간 %4</translation>
    </message>
    <message>
        <source>done: %1 steps; model saved to %2</source>
        <translation>완료: %1단계. 모델을 %2에 저장했습니다</translation>
    </message>
    <message>
        <source>lowest held-out KID %1 at step %2: %3</source>
        <translation>가장 낮은 검증 KID %1 (%2단계): %3</translation>
    </message>
    <message>
        <source>paused; Resume continues %1</source>
        <translation>일시 정지됨. 이어 하기를 누르면 %1 학습을 계속합니다</translation>
    </message>
    <message>
        <source>cancelled; the checkpoint in %1 can be continued with “Resume a run…”</source>
        <translation>취소됨. %1의 체크포인트는 “학습 이어 하기…”로 계속할 수 있습니다</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>이어 하기</translation>
    </message>
    <message>
        <source>Dataset folder</source>
        <translation>데이터셋 폴더</translation>
    </message>
    <message>
        <source>Resume a run</source>
        <translation>학습 이어 하기</translation>
    </message>
</context>
<context>
    <name>ZooDialog</name>
    <message>
        <source>Task</source>
        <translation>작업</translation>
    </message>
    <message>
        <source>What the model turns into what</source>
        <translation>모델이 무엇을 무엇으로 바꾸는지</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>모델</translation>
    </message>
    <message>
        <source>The model&apos;s name on the reference site, and for `translator zoo get`</source>
        <translation>참조 사이트에서의 모델 이름 (`translator zoo get`에 쓰는 이름)</translation>
    </message>
    <message>
        <source>Kind</source>
        <translation>종류</translation>
    </message>
    <message>
        <source>pix2pix: trained on pairs; CycleGAN: trained on two unpaired sets, translates one way</source>
        <translation>pix2pix: 짝지은 이미지로 학습. CycleGAN: 짝이 없는 두 묶음으로 학습, 한 방향으로 변환</translation>
    </message>
    <message>
        <source>Installed</source>
        <translation>설치됨</translation>
    </message>
    <message>
        <source>Already in your models folder</source>
        <translation>이미 모델 폴더에 있음</translation>
    </message>
    <message>
        <source>Architecture</source>
        <translation>구조</translation>
    </message>
    <message>
        <source>The generator network</source>
        <translation>생성자 신경망</translation>
    </message>
    <message>
        <source>Get models</source>
        <translation>모델 받기</translation>
    </message>
    <message>
        <source>Official pretrained models of the reference pix2pix/CycleGAN implementation. A pix2pix model is its generator only (no adversarial verdict); a CycleGAN model translates one way. No checksums are published: the first download&apos;s sha256 is recorded and a different later one is reported.</source>
        <translation>참조 pix2pix/CycleGAN 구현의 공식 사전 학습 모델입니다. pix2pix 모델은 생성자만 있고(판별자 평가 없음), CycleGAN 모델은 한 방향으로만 변환합니다. 공개된 체크섬이 없어서, 처음 받을 때의 sha256을 기록해 두고 나중에 달라지면 알려 드립니다.</translation>
    </message>
    <message>
        <source>Download</source>
        <translation>받기</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>취소</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>닫기</translation>
    </message>
    <message>
        <source>yes</source>
        <translation>예</translation>
    </message>
    <message>
        <source>Choose a model first.</source>
        <translation>먼저 모델을 고르세요.</translation>
    </message>
    <message>
        <source>%1 is already in your models folder. Download it again and replace it?</source>
        <translation>%1은(는) 이미 모델 폴더에 있습니다. 다시 받아서 바꿀까요?</translation>
    </message>
    <message>
        <source>Downloading %1 from %2…</source>
        <translation>%2에서 %1 받는 중…</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>취소하는 중…</translation>
    </message>
    <message>
        <source>%1 of %2 MB</source>
        <translation>%1 / %2 MB</translation>
    </message>
    <message>
        <source>%1 MB</source>
        <translation>%1 MB</translation>
    </message>
    <message>
        <source>%1 · %2 MB/s · ETA %3</source>
        <translation>%1 · %2 MB/s · 남은 시간 %3</translation>
    </message>
    <message>
        <source>Saved %1 as %2 (sha256 %3…).</source>
        <translation>%1을(를) %2로 저장했습니다 (sha256 %3…).</translation>
    </message>
    <message>
        <source> Warning: the first download of this model had sha256 %1…; the file may have been replaced or altered.</source>
        <translation> 경고: 이 모델을 처음 받았을 때의 sha256은 %1…이었습니다. 파일이 바뀌었거나 변조되었을 수 있습니다.</translation>
    </message>
    <message>
        <source>Cancelled. The partial download is kept; Download resumes it.</source>
        <translation>취소했습니다. 받던 파일은 남아 있으며, 받기를 누르면 이어서 받습니다.</translation>
    </message>
</context>
<context>
    <name>ZooTasks</name>
    <message>
        <source>shoe edges → shoe photo</source>
        <translation>신발 윤곽선 → 신발 사진</translation>
    </message>
    <message>
        <source>satellite photo → map</source>
        <translation>위성 사진 → 지도</translation>
    </message>
    <message>
        <source>map → satellite photo</source>
        <translation>지도 → 위성 사진</translation>
    </message>
    <message>
        <source>facade label map → facade photo</source>
        <translation>건물 정면 레이블 맵 → 건물 정면 사진</translation>
    </message>
    <message>
        <source>day photo → night photo</source>
        <translation>낮 사진 → 밤 사진</translation>
    </message>
    <message>
        <source>apple → orange</source>
        <translation>사과 → 오렌지</translation>
    </message>
    <message>
        <source>orange → apple</source>
        <translation>오렌지 → 사과</translation>
    </message>
    <message>
        <source>summer (Yosemite) → winter (Yosemite)</source>
        <translation>여름 (요세미티) → 겨울 (요세미티)</translation>
    </message>
    <message>
        <source>winter (Yosemite) → summer (Yosemite)</source>
        <translation>겨울 (요세미티) → 여름 (요세미티)</translation>
    </message>
    <message>
        <source>horse → zebra</source>
        <translation>말 → 얼룩말</translation>
    </message>
    <message>
        <source>zebra → horse</source>
        <translation>얼룩말 → 말</translation>
    </message>
    <message>
        <source>Monet painting → photo</source>
        <translation>모네 그림 → 사진</translation>
    </message>
    <message>
        <source>photo → Monet painting</source>
        <translation>사진 → 모네 풍 그림</translation>
    </message>
    <message>
        <source>photo → Cézanne painting</source>
        <translation>사진 → 세잔 풍 그림</translation>
    </message>
    <message>
        <source>photo → ukiyo-e print</source>
        <translation>사진 → 우키요에 판화</translation>
    </message>
    <message>
        <source>photo → Van Gogh painting</source>
        <translation>사진 → 반 고흐 풍 그림</translation>
    </message>
    <message>
        <source>street photo → label map</source>
        <translation>거리 사진 → 레이블 맵</translation>
    </message>
    <message>
        <source>label map → street photo</source>
        <translation>레이블 맵 → 거리 사진</translation>
    </message>
    <message>
        <source>facade photo → label map</source>
        <translation>건물 정면 사진 → 레이블 맵</translation>
    </message>
    <message>
        <source>label map → facade photo</source>
        <translation>레이블 맵 → 건물 정면 사진</translation>
    </message>
    <message>
        <source>iPhone flower photo → DSLR flower photo</source>
        <translation>아이폰 꽃 사진 → DSLR 꽃 사진</translation>
    </message>
</context>
<context>
    <name>_JobLine</name>
    <message>
        <source>%1: starting…</source>
        <translation>%1: 시작하는 중…</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>취소</translation>
    </message>
    <message>
        <source>Stop this job (%1): finished outputs are kept; run it again to continue</source>
        <translation>이 작업(%1)을 멈춥니다. 완성된 결과는 남고, 다시 실행하면 이어서 합니다</translation>
    </message>
    <message>
        <source>%1: stopping…</source>
        <translation>%1: 멈추는 중…</translation>
    </message>
</context>
<context>
    <name>_WipeCanvas</name>
    <message>
        <source>no images</source>
        <translation>이미지 없음</translation>
    </message>
</context>
</TS>
